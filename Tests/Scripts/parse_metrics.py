"""Parses Prometheus text format from stdin with prometheus_client's parser and prints JSON:
{"families": {name: type}, "samples": [[sample name, labels, value], ...]}. A scrape the parser
rejects exits 1 with its error."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = family.type
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
json.dump({"families": families, "samples": samples}, sys.stdout)
