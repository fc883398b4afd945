#!/usr/bin/env python3
"""Dump what a Python file says, without importing it (Airflow and PySpark are not installed):
calls with their literal keyword arguments, module-level literal assignments, `a >> b >> c` chains
and the string constants of every function's list literals. Prints one JSON object."""
import ast
import json
import sys


def literal(node):
    """A literal's value; a dict keeps its literal entries (others are None); anything else None."""
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        if isinstance(node, ast.Dict):
            return {literal(k): literal(v) for k, v in zip(node.keys, node.values) if k is not None}
        return None


def name_of(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def chain(node):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
        return chain(node.left) + chain(node.right)
    return [name_of(node)]


tree = ast.parse(open(sys.argv[1]).read(), sys.argv[1])
out = {"calls": [], "assigns": {}, "shifts": [], "function_lists": {}}
for node in ast.walk(tree):
    if isinstance(node, ast.Call):
        out["calls"].append({"func": name_of(node.func), "kwargs": {k.arg: literal(k.value) for k in node.keywords if k.arg}})
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.RShift):
        out["shifts"].append(chain(node.value))
    if isinstance(node, ast.FunctionDef):
        strings = [s.value for lst in ast.walk(node) if isinstance(lst, ast.List) for s in lst.elts if isinstance(s, ast.Constant) and isinstance(s.value, str)]
        out["function_lists"][node.name] = strings
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        v = literal(node.value)
        if v is not None:
            out["assigns"][node.targets[0].id] = v
print(json.dumps(out, default=str))
