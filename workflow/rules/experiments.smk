# The experiments beyond the paper (issue 6), each switched by config["experiments"][name]["enabled"]:
#   ood                   every arithmetic model and regime on operands 0..19 (evaluation only; on by default)
#   extended              appendix B: the arithmetic MLT for 1.5M iterations at lr 1e-6 (a GPU job)
#   long_training         n28/n56 for 300k iterations, with and without weight decay (CPU)
#   seeds                 every n-model configuration over 5 seeds; mean, 95% t-interval, k/n outcomes
#   sweep                 widths n = 8..64 on arithmetic and capitals, several seeds; one figure
#   sensitivity_eval      best checkpoints re-evaluated: temperature 0.8, greedy, grid 100, prompt style (on)
#   sensitivity_training  warm-up 100 and no gradient clipping, retrained
# Runs live in the paper's layout, results/runs/{regime}/{task}/{model}/seed{seed}: extra seeds of the paper's
# regimes are trained by train_model itself, sweep widths by train_sweep, experiment regimes by train_experiment
# (toobig.experiments resolves their settings). Tables and the figure go to results/experiments/.

include: "experiments_helpers.smk"


rule train_experiment:
    input:
        text=rules.make_dataset.output.text,
        prompts=rules.make_dataset.output.prompts,
        meta=rules.make_dataset.output.meta,
        changed=changed_config_flag,
    output:
        **run_outputs(),
    params:
        run=json_param(get_run_config),
        device=experiment_run_device,
        training_version=TRAINING_VERSION,
    log:
        f"{RESULTS}/logs/train_experiment/{{regime}}/{{task}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime=EXPERIMENT_REGIMES,
        task="arithmetic|capitals|joint",
        model=r"n[0-9]+|mlt",
        seed=r"\d+",
    threads: config["threads_per_job"]
    resources:
        gpu=experiment_run_gpus,
        slurm_partition=slurm_partition(experiment_run_gpus),
    conda:
        "../../environment.yml"
    shell:
        TRAIN_COMMAND


rule train_sweep:
    input:
        text=rules.make_dataset.output.text,
        prompts=rules.make_dataset.output.prompts,
        meta=rules.make_dataset.output.meta,
        changed=changed_config_flag,
    output:
        **run_outputs(),
    params:
        run=json_param(get_run_config),
        device=get_run_device,
        training_version=TRAINING_VERSION,
    log:
        f"{RESULTS}/logs/train_sweep/{{regime}}/{{task}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime="main|controlled",
        task="arithmetic|capitals|joint",
        model=SWEEP_MODELS,
        seed=r"\d+",
    threads: config["threads_per_job"]
    resources:
        gpu=get_run_gpus,
        slurm_partition=slurm_partition(get_run_gpus),
    conda:
        "../../environment.yml"
    shell:
        TRAIN_COMMAND


if config.get("stack_runs", False):

    rule train_sweep_stack:
        input:
            text=rules.make_dataset.output.text,
            prompts=rules.make_dataset.output.prompts,
            meta=rules.make_dataset.output.meta,
            changed=lambda wc: changed_config_flags(sweep_stack_runs(wc)),
        output:
            [f"{RESULTS}/runs/{{regime}}/{{task}}/{{model}}/seed{seed}/{name}"
             for seed in EXP["sweep"]["seeds"] for name in RUN_FILES],
        params:
            runs=json_param(sweep_stack_configs),
            out_dirs=sweep_stack_dirs,
            device=stack_device(),
            cuda_graphs=cuda_graphs_flag(),
            training_version=TRAINING_VERSION,
        log:
            f"{RESULTS}/logs/train_sweep_stack/{{regime}}/{{task}}/{{model}}.log",
        wildcard_constraints:
            regime="main|controlled",
            task="arithmetic|capitals|joint",
            model=SWEEP_MODELS,
        threads: config["threads_per_job"]
        resources:
            gpu=stack_gpus,
            slurm_partition=slurm_partition(stack_gpus),
        conda:
            "../../environment.yml"
        shell:
            TRAIN_STACK_COMMAND

    rule train_long_stack:
        input:
            text=rules.make_dataset.output.text,
            prompts=rules.make_dataset.output.prompts,
            meta=rules.make_dataset.output.meta,
            changed=lambda wc: changed_config_flags(long_stack_runs(wc)),
        output:
            [f"{RESULTS}/runs/{regime}/{{task}}/{{model}}/seed{seed}/{name}"
             for regime in EXP["long_training"]["variants"] for seed in EXP["long_training"]["seeds"]
             for name in RUN_FILES],
        params:
            runs=json_param(long_stack_configs),
            out_dirs=long_stack_dirs,
            device=stack_device(),
            cuda_graphs=cuda_graphs_flag(),
            training_version=TRAINING_VERSION,
        log:
            f"{RESULTS}/logs/train_long_stack/{{task}}/{{model}}.log",
        wildcard_constraints:
            task="arithmetic|capitals|joint",
            model=r"n[0-9]+",
        threads: config["threads_per_job"]
        resources:
            gpu=stack_gpus,
            slurm_partition=slurm_partition(stack_gpus),
        conda:
            "../../environment.yml"
        shell:
            TRAIN_STACK_COMMAND

    ruleorder: train_sweep_stack > train_sweep
    ruleorder: train_long_stack > train_experiment


rule sample_ood_answers:
    input:
        best=f"{RESULTS}/runs/{{regime}}/arithmetic/{{model}}/seed{{seed}}/best.pt",
    output:
        csv=f"{EXP_DIR}/ood/{{regime}}/{{model}}/seed{{seed}}/samples.csv",
        timing=f"{EXP_DIR}/ood/{{regime}}/{{model}}/seed{{seed}}/timing.csv",
    params:
        data=config["data"],
    log:
        f"{RESULTS}/logs/sample_ood_answers/{{regime}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime="main|controlled",
        model="n14|n28|n56|mlt",
        seed=r"\d+",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_ood_samples.py"


rule make_ood_table:
    input:
        samples=ood_sample_files(),
        timing=ood_sample_files("timing.csv"),
        counts=ood_count_files(),
        paper=f"{PAPER_DIR}/text_values.csv",
    output:
        csv=report(f"{EXP_DIR}/ood.csv", caption="../report/experiments.rst", category="Experiments"),
    params:
        runs=ood_runs(),
    log:
        f"{RESULTS}/logs/experiments/make_ood_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_ood_table.py"


rule make_extended_table:
    input:
        runs=experiment_run_files("extended") if experiment_on("extended") else [],
    output:
        csv=report(f"{EXP_DIR}/extended.csv", caption="../report/experiments.rst", category="Experiments"),
    params:
        runs=X.experiment_runs(config, "extended"),
        paper_runs=paper_run_keys(),
        figure=False,
    log:
        f"{RESULTS}/logs/experiments/make_extended_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_runs_table.py"


rule make_long_training_table:
    input:
        runs=experiment_run_files("long_training") if experiment_on("long_training") else [],
        best=experiment_best_files("long_training"),
    output:
        csv=report(f"{EXP_DIR}/long_training.csv", caption="../report/experiments.rst", category="Experiments"),
        heldout=report(f"{EXP_DIR}/long_training_heldout.csv", caption="../report/experiments.rst", category="Experiments"),
        stretches=report(f"{EXP_DIR}/long_training_stretches.csv", caption="../report/experiments.rst", category="Experiments"),
        png=report(f"{EXP_DIR}/long_training.png", caption="../report/experiments.rst", category="Experiments"),
    params:
        runs=X.experiment_runs(config, "long_training"),
        paper_runs=paper_run_keys(),
        figure=True,
        stretch_ends=EXP["long_training"]["stretch_ends"],
    log:
        f"{RESULTS}/logs/experiments/make_long_training_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_runs_table.py"


rule make_seeds_table:
    input:
        runs=experiment_run_files("seeds") if experiment_on("seeds") else [],
        best=experiment_best_files("seeds"),
    output:
        cells=report(f"{EXP_DIR}/seeds.csv", caption="../report/experiments.rst", category="Experiments"),
        outcomes=report(f"{EXP_DIR}/seeds_outcomes.csv", caption="../report/experiments.rst", category="Experiments"),
        heldout=report(f"{EXP_DIR}/seeds_heldout.csv", caption="../report/experiments.rst", category="Experiments"),
        png=report(f"{EXP_DIR}/seeds.png", caption="../report/experiments.rst", category="Experiments"),
    params:
        runs=X.experiment_runs(config, "seeds"),
        paper_runs=paper_run_keys(),
    log:
        f"{RESULTS}/logs/experiments/make_seeds_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_seeds_table.py"


rule make_sweep_table:
    input:
        runs=experiment_run_files("sweep") if experiment_on("sweep") else [],
        best=experiment_best_files("sweep"),
    output:
        csv=report(f"{EXP_DIR}/sweep.csv", caption="../report/experiments.rst", category="Experiments"),
        heldout=report(f"{EXP_DIR}/sweep_heldout.csv", caption="../report/experiments.rst", category="Experiments"),
        png=report(f"{EXP_DIR}/sweep.png", caption="../report/experiments.rst", category="Experiments"),
    params:
        runs=X.experiment_runs(config, "sweep"),
        paper_runs=paper_run_keys(),
        model_settings=config["model_settings"],
    log:
        f"{RESULTS}/logs/experiments/make_sweep_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_sweep.py"


rule evaluate_sensitivity:
    input:
        best=f"{RESULTS}/runs/{{regime}}/{{task}}/{{model}}/seed{{seed}}/best.pt",
    output:
        csv=f"{EXP_DIR}/sensitivity/{{regime}}/{{task}}/{{model}}/seed{{seed}}.csv",
    params:
        data=config["data"],
        variants=EXP["sensitivity_eval"]["variants"],
    log:
        f"{RESULTS}/logs/evaluate_sensitivity/{{regime}}/{{task}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime="main|controlled",
        task="arithmetic|capitals|joint",
        model="n14|n28|n56|mlt",
        seed=r"\d+",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_sensitivity_eval.py"


rule make_sensitivity_table:
    input:
        unpack(sensitivity_table_inputs),
    output:
        csv=report(f"{EXP_DIR}/sensitivity.csv", caption="../report/experiments.rst", category="Experiments"),
    params:
        reference=sensitivity_reference_runs(),
        evaluations=[r for r in sensitivity_runs()] if experiment_on("sensitivity_eval") else [],
        training=sensitivity_training_runs(),
        training_settings={k: v for k, v in EXP["sensitivity_training"]["variants"].items()},
    log:
        f"{RESULTS}/logs/experiments/make_sensitivity_table.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/exp_sensitivity_table.py"

