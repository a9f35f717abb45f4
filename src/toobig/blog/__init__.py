"""The blog experiment: four-operation arithmetic on a GPT-2-family model.

Modules, one job each:
  config        BlogConfig, validated from config.yaml's `blog:` section
  data          the `{OP} {a} {b} {result}` lines and the seeded held-out split
  tokenizer     the real GPT-2 BPE loaded from local vocab/merges files
  encoding      token ids, padding to 32 and the loss labels (learn_to_stop on/off)
  model         GPT2LMHeadModel from scratch, or from_pretrained(local_dir)
  decode        batched greedy decoding
  metrics       exact match and the partial-correctness metrics, per prediction and per operation
  observations  the automatic one-line observation for the prediction table
  train         the resumable training loop that writes metrics
  claims        verdicts on the posts' claims, from the metric tables
  plots         figures and the HTML fragment, from the tables only
"""
