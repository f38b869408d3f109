"""Pretrained transformer encoders (BERT, DistilBERT, RoBERTa, DeBERTa-v2/v3, MiniLM, ...).

    backbone.py        hub id | local folder | "minilm" -> tokenizer and model (offline-safe)
    architectures.py   per-architecture table: LoRA targets, head modules, attention class
    tokenization.py    head / head+tail truncation on token ids, dynamic padding, length groups
    heads.py           pooled_linear: dropout + Linear over the pooled output ("bert_scratch")
    peft_methods.py    LoRA, P-tuning, prompt tuning via peft, head trainable (modules_to_save)
    prefix.py          prefix tuning by the project (peft's needs past_key_values)
    deberta_prefix.py  prefixes inside DeBERTa's disentangled attention
    modeling.py        build / save / load for (head, method) in Hugging Face formats
    training.py        tokenise + build + the shared loop (native) or HF Trainer (trainer)
    predictor.py       TransformerPredictor: texts -> P(positive)
    recipe.py          TransformerConfig and the registry recipe

Importing this package imports neither torch nor transformers.
"""
