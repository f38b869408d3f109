"""Ensembles of finished runs, recorded as runs of their own (model and family "ensemble").

combine.py   members' P(positive) -> one P(positive): mean, vote, stack, greedy
fit.py       the fitted methods' weights, from validation predictions only
members.py   reading member runs and refusing those that cannot be combined
recipe.py    the config, the predictor (it loads its members) and the registry's recipe
build.py     `sentibench ensemble`: check, fit on validation, score the test split once
"""
