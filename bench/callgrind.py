"""Reading a callgrind dump: instructions by function, exclusive (what the
function itself ran, not its callees). With --separate-callers a function's
name carries its callers, `fn'caller'caller's caller...`."""
import collections, re


def exclusive_costs(path):
    names, cost, fn, call_line = {}, collections.Counter(), None, False

    def name(spec):
        """`(12) name` defines id 12; a later `(12)` refers to it."""
        m = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if not m:
            return spec
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    for line in open(path):
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
    return cost
