import torch

from toobig.blog.data import Problem
from toobig.blog.encoding import encode_problems
from toobig.blog.tokenizer import load_gpt2_tokenizer

SUM = Problem("SUM", 1, 2, "3")        # [50, 5883, 352, 362, 513], prompt = first 4 tokens
E = 50256


def test_ids_are_right_padded_with_end_of_text():
    enc = encode_problems([SUM], load_gpt2_tokenizer(), max_length=8)
    assert enc.ids.tolist() == [[50, 5883, 352, 362, 513, E, E, E]]
    assert enc.attention.tolist() == [[1, 1, 1, 1, 1, 0, 0, 0]]


def test_labels_learn_to_stop_off_mask_every_end_of_text():
    enc = encode_problems([SUM], load_gpt2_tokenizer(), max_length=8, learn_to_stop=False)
    assert enc.labels.tolist() == [[50, 5883, 352, 362, 513, -100, -100, -100]]
    assert enc.answer_mask.tolist() == [[False, False, False, False, True, False, False, False]]


def test_labels_learn_to_stop_on_keep_one_end_of_text():
    enc = encode_problems([SUM], load_gpt2_tokenizer(), max_length=8, learn_to_stop=True)
    assert enc.labels.tolist() == [[50, 5883, 352, 362, 513, E, -100, -100]]
    assert enc.answer_mask.tolist() == [[False, False, False, False, True, True, False, False]]


def test_truncation_to_max_length_leaves_no_end_of_text_target():
    enc = encode_problems([SUM], load_gpt2_tokenizer(), max_length=4, learn_to_stop=True)
    assert enc.ids.tolist() == [[50, 5883, 352, 362]]
    assert enc.labels.tolist() == [[50, 5883, 352, 362]]


def test_multi_token_answers_are_marked():
    p = Problem("SUBTRACT", 190, 498, "-308")   # ... ' 4', '98', ' -', '308'
    enc = encode_problems([p], load_gpt2_tokenizer(), max_length=12, learn_to_stop=True)
    assert torch.equal(enc.answer_mask[0].nonzero().flatten(), torch.tensor([7, 8, 9]))
    assert enc.labels[0, 7:11].tolist() == [532, 21495, E, -100]
