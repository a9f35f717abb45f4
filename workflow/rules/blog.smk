# The blog experiment (issue 7): four-operation arithmetic on a GPT-2-family model, with
# partial-correctness metrics read beside the loss. Switched by config["blog"]["enabled"].
#   make_blog_dataset -> train_blog_model (per model and learn_to_stop; writes raw answers every eval)
#   -> score_blog_answers (metrics from the answers: a metric change never retrains) -> plot/tables/claims
#   -> compare_blog_learn_to_stop -> write_blog_summary (results/blog/summary.json + HTML fragment)


include: "blog_helpers.smk"


rule make_blog_dataset:
    input:
        changed=blog_data_changed_flag,
    output:
        train=f"{BLOG}/data/train.txt",
        heldout=f"{BLOG}/data/heldout.txt",
        counts=f"{BLOG}/data/counts.json",
    params:
        data=json.dumps(config["blog"]["data"], sort_keys=True),
    log:
        f"{BLOG}/logs/make_blog_dataset.log",
    conda:
        "../../environment.yml"
    shell:
        'python -m toobig blog-data --data-json {params.data:q} --out "$(dirname {output.train:q})" > {log:q} 2>&1'


rule train_blog_model:
    input:
        train=rules.make_blog_dataset.output.train,
        heldout=rules.make_blog_dataset.output.heldout,
        changed=blog_changed_flag,
    output:
        epochs=f"{BLOG_RUN}/epochs.csv",
        evals=f"{BLOG_RUN}/evals.csv",
        behaviour=f"{BLOG_RUN}/behaviour.csv",
        trace=f"{BLOG_RUN}/trace.csv",
        predictions=f"{BLOG_RUN}/predictions.csv",
        answers=f"{BLOG_RUN}/answers.csv.gz",
        run=f"{BLOG_RUN}/run.json",
    params:
        run=blog_run_params,
        device=blog_run_device,
    log:
        f"{BLOG}/logs/train_blog_model/{{model}}_stop-{{stop}}.log",
    wildcard_constraints:
        stop="on|off",
        model="[a-z0-9]+",
    threads: 1
    resources:
        gpu=blog_run_gpus,
        slurm_partition=blog_slurm_partition,
    conda:
        "../../environment.yml"
    shell:
        'python -m toobig blog-train --run-json {params.run:q} --data "$(dirname {input.train:q})" '
        '--out "$(dirname {output.epochs:q})" --threads {threads} --device {params.device} >> {log:q} 2>&1'


rule score_blog_answers:
    input:
        answers=rules.train_blog_model.output.answers,
    output:
        scores=f"{BLOG_RUN}/scores.csv",
    params:
        k=config["blog"]["evaluation"]["decimals_k"],
    log:
        f"{BLOG}/logs/score_blog_answers/{{model}}_stop-{{stop}}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_score_answers.py"


rule plot_blog_dynamics:
    input:
        epochs=rules.train_blog_model.output.epochs,
        evals=rules.train_blog_model.output.evals,
        behaviour=rules.score_blog_answers.output.scores,
    output:
        figure=report(f"{BLOG_RUN}/dynamics.png", caption="../report/blog_dynamics.rst", category="Blog experiment"),
    log:
        f"{BLOG}/logs/plot_blog_dynamics/{{model}}_stop-{{stop}}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_plot_dynamics.py"


rule make_blog_prediction_table:
    input:
        predictions=rules.train_blog_model.output.predictions,
        behaviour=rules.score_blog_answers.output.scores,
    output:
        table=report(f"{BLOG_RUN}/prediction_table.csv", caption="../report/blog_prediction_table.rst",
                     category="Blog experiment"),
        observations=f"{BLOG_RUN}/observation_counts.csv",
        final=f"{BLOG_RUN}/final_metrics.csv",
    params:
        k=config["blog"]["evaluation"]["decimals_k"],
    log:
        f"{BLOG}/logs/make_blog_prediction_table/{{model}}_stop-{{stop}}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_prediction_table.py"


rule judge_blog_claims:
    input:
        epochs=rules.train_blog_model.output.epochs,
        evals=rules.train_blog_model.output.evals,
        behaviour=rules.score_blog_answers.output.scores,
    output:
        claims=f"{BLOG_RUN}/claims.json",
    params:
        thresholds=config["blog"]["claims"],
    log:
        f"{BLOG}/logs/judge_blog_claims/{{model}}_stop-{{stop}}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_judge_claims.py"


rule compare_blog_learn_to_stop:
    input:
        unpack(blog_comparison_inputs),
    output:
        comparison=f"{BLOG}/learn_to_stop.json",
        figure=report(f"{BLOG}/learn_to_stop.png", caption="../report/blog_learn_to_stop.rst",
                      category="Blog experiment"),
    log:
        f"{BLOG}/logs/compare_blog_learn_to_stop.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_compare_learn_to_stop.py"


rule write_blog_summary:
    input:
        runs=blog_run_paths("run.json"),
        claims=blog_run_paths("claims.json"),
        final=blog_run_paths("final_metrics.csv"),
        tables=blog_run_paths("prediction_table.csv"),
        evals=blog_run_paths("evals.csv"),
        figures=blog_run_paths("dynamics.png"),
        comparison=blog_comparison_outputs(),
        template="workflow/report/blog_fragment.html.jinja",
    output:
        summary=f"{BLOG}/summary.json",
        fragment=f"{BLOG}/report.html",
    params:
        names=blog_runs(),
        absent=blog_absent_runs(),
    log:
        f"{BLOG}/logs/write_blog_summary.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/blog_write_summary.py"
