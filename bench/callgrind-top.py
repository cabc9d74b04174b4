"""Instructions by function (exclusive) in one callgrind file, top first:
what `callgrind_annotate` 3.19 should show but does not for these dumps
(it charges everything to `clone`).
    python3 bench/callgrind-top.py callgrind.out [how-many]"""
import collections, re, sys

names, cost, fn, call_line = {}, collections.Counter(), None, False


def name(spec):
    """`(12) name` defines id 12; a later `(12)` refers to it."""
    m = re.match(r"\((\d+)\)(?: (.*))?", spec)
    if not m:
        return spec
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), spec)


for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("fn="):
        fn = name(line[3:])
    elif line.startswith("cfn="):
        name(line[4:])
    elif line.startswith("calls="):
        call_line = True  # the next cost line is the callee's, inclusive
    elif line[:1].isdigit() or line[:1] in ("+", "-", "*"):
        fields = line.split()
        if call_line:
            call_line = False
        elif len(fields) >= 2:
            cost[fn] += int(fields[1])
total = sum(cost.values())
for function, n in cost.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 25):
    print(f"{n / total * 100:6.2f}%  {n:>13,}  {function[:140]}")
