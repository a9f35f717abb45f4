from toobig.blog.tokenizer import EOS, gpt2_bpe_files, load_gpt2_tokenizer


def test_packaged_files_are_gpt2s_vocab_and_merges():
    vocab, merges = gpt2_bpe_files()
    assert vocab.stat().st_size == 1_042_301
    assert merges.read_text(encoding="utf-8").splitlines()[:2] == ["#version: 0.2", "Ġ t"]


def test_known_gpt2_token_ids():
    tok = load_gpt2_tokenizer()
    assert len(tok) == 50257
    assert tok.eos_token == tok.pad_token == EOS and tok.eos_token_id == 50256
    assert tok.encode("Hello world") == [15496, 995]                     # GPT-2's published ids
    assert tok.encode("SUM 1 2 3") == [50, 5883, 352, 362, 513]
    ids = tok.encode("DIVIDE 845 79 10.69620253164557")
    assert [tok.decode([i]) for i in ids] == ["DIV", "IDE", " 8", "45", " 79", " 10", ".", "696", "20", "253", "16",
                                               "45", "57"]


def test_round_trip():
    tok = load_gpt2_tokenizer()
    for line in ["SUBTRACT 190 498 -308", "MULTIPLY 974 915 891210", "DIVIDE 15 994 0.015090543259557344"]:
        assert tok.decode(tok.encode(line)) == line


def test_saved_tokenizer_directory_loads(tmp_path):
    tok = load_gpt2_tokenizer()
    tok.save_pretrained(tmp_path)
    again = load_gpt2_tokenizer(tmp_path)
    assert again.encode("SUM 1 2 3") == [50, 5883, 352, 362, 513]
