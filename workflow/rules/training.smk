# Stage 2: one training run per (regime, task, model, seed). GPU runs declare resources: gpu=1, so
# `--resources gpu=1` never places two of them on one GPU while CPU runs fill the other cores.


rule train_model:
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
        f"{RESULTS}/logs/train_model/{{regime}}/{{task}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime="main|controlled",
        task="arithmetic|capitals|joint",
        model="n14|n28|n56|mlt",
        seed=r"\d+",
    threads: config["threads_per_job"]
    resources:
        gpu=get_run_gpus,
        slurm_partition=slurm_partition(get_run_gpus),
    conda:
        "../../environment.yml"
    shell:
        TRAIN_COMMAND
