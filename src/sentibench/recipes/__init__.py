"""Recipes: how a family of models is built, trained and loaded (registry.py names them).

linear.py        TF-IDF / NB-SVM on n-grams (scikit-learn)
classic.py       the GloVe nets of nn/ on the shared loop
transformer/     Hugging Face encoders x method (full, LoRA, P-tuning, prompt, prefix)
                 x loop (the shared loop or HF Trainer)
"""
