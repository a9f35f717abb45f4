# Stage 1: the three character-level training texts and their evaluation prompt sets.


rule make_dataset:
    output:
        text=f"{RESULTS}/datasets/{{task}}/train.txt",
        prompts=f"{RESULTS}/datasets/{{task}}/prompts.json",
        meta=f"{RESULTS}/datasets/{{task}}/meta.json",
    params:
        data=config["data"],
    log:
        f"{RESULTS}/logs/make_dataset/{{task}}.log",
    wildcard_constraints:
        task="arithmetic|capitals|joint",
    conda:
        "../../environment.yml"
    script:
        "../scripts/make_dataset.py"
