"""Using a trained run: the Python API, batch prediction, export to ONNX / int8, and a service.

Example: `model = sentibench.load_run("runs/nbsvm-...")`, then
`model.predict(["A wonderful film."])` -> array([1]), `model.predict_proba([...])` -> P(positive),
and `model.explain("A wonderful film.")` -> which words pushed it, by occlusion.
"""

from sentibench.inference.api import LABELS, Explanation, RunModel, WordContribution, load_run

__all__ = ["LABELS", "Explanation", "RunModel", "WordContribution", "load_run"]
