"""The baseline for the report-endpoint load test: a bare Flask app answering a constant."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.post("/report")
def report():
    return jsonify({"ok": True}), 201
