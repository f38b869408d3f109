"""Pretrained transformer encoders (BERT, DistilBERT, RoBERTa, DeBERTa-v2/v3, MiniLM, ...).

    backbone.py        hub id | local folder | "minilm" -> tokenizer and model (offline-safe)
    architectures.py   per-architecture table: LoRA targets, head modules, prefix installer
    tokenization.py    head / head+tail truncation on token ids, dynamic padding, length groups
    heads.py           pooled_linear: dropout + Linear over the pooled output ("bert_scratch")
    peft_methods.py    LoRA, P-tuning, prompt tuning via peft, head trainable (modules_to_save)
    prefix/            prefix tuning by the project (peft's needs past_key_values): core.py,
                       and one installer per attention implementation (interface, deberta)
    modeling.py        build / save / load for (head, method) in Hugging Face formats

Training them is recipes/transformer/'s job. Importing this package imports neither torch nor
transformers.
"""
