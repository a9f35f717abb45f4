# Stage 1: the three character-level training texts and their evaluation prompt sets.


rule make_dataset:
    input:
        changed=changed_data_flag,
    output:
        text=f"{RESULTS}/datasets/{{task}}/train.txt",
        prompts=f"{RESULTS}/datasets/{{task}}/prompts.json",
        meta=f"{RESULTS}/datasets/{{task}}/meta.json",
    params:
        data=json.dumps(config["data"], sort_keys=True),
    log:
        f"{RESULTS}/logs/make_dataset/{{task}}.log",
    wildcard_constraints:
        task="arithmetic|capitals|joint",
    conda:
        "../../environment.yml"
    shell:
        'python -m toobig data --task {wildcards.task} --data-json {params.data:q} '
        '--out "$(dirname {output.text:q})" > {log:q} 2>&1'
