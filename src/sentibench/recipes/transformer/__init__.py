"""The transformer recipe: one registry recipe for every encoder x method x loop.

config.py      TransformerConfig (every key, with help)
recipe.py      TransformerRecipe: train (tokenise, build, pick the loop) and load
native.py      the shared loop (train/loop.py) on tokenised reviews, their epoch batches
hf_trainer.py  the same run on Hugging Face Trainer
predictor.py   TransformerPredictor: texts -> batches -> P(positive) (k classes: k probabilities)
"""
