# Optional (config stack_runs: true): each n-model's regimes of one (task, model, seed) trained as one stacked
# job (toobig.multirun), writing the same files as train_model, run for run. Off (the default) adds no rule.
# Stacked runs equal single runs to float rounding, not bit for bit (README "GPU"); the MLT is never stacked
# (its main regime has dropout).

if config.get("stack_runs", False):

    from toobig.multirun import stack_run_configs

    rule train_stack:
        input:
            text=rules.make_dataset.output.text,
            prompts=rules.make_dataset.output.prompts,
            meta=rules.make_dataset.output.meta,
            changed=lambda wc: changed_config_flags([dict(regime=r, task=wc.task, model=wc.model, seed=wc.seed)
                                                     for r in config["regimes"]]),
        output:
            [f"{RESULTS}/runs/{regime}/{{task}}/{{model}}/seed{{seed}}/{name}"
             for regime in config["regimes"] for name in RUN_FILES],
        params:
            runs=json_param(lambda wc: stack_run_configs(config, wc.task, wc.model, int(wc.seed))),
            out_dirs=lambda wc: [f"{RESULTS}/runs/{regime}/{wc.task}/{wc.model}/seed{wc.seed}"
                                 for regime in config["regimes"]],
            device=stack_device(),
            cuda_graphs=cuda_graphs_flag(),
            training_version=TRAINING_VERSION,
        log:
            f"{RESULTS}/logs/train_stack/{{task}}/{{model}}/seed{{seed}}.log",
        wildcard_constraints:
            task="arithmetic|capitals|joint",
            model="n14|n28|n56",
            seed=r"\d+",
        threads: config["threads_per_job"]
        resources:
            gpu=stack_gpus,
            slurm_partition=slurm_partition(stack_gpus),
        conda:
            "../../environment.yml"
        shell:
            TRAIN_STACK_COMMAND

    ruleorder: train_stack > train_model
