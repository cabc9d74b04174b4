"""Instructions by function (exclusive) in one callgrind file, top first:
what `callgrind_annotate` 3.19 should show but does not for these dumps
(it charges everything to `clone`).
    python3 bench/callgrind-top.py callgrind.out [how-many]"""
import sys

from callgrind import exclusive_costs

cost = exclusive_costs(sys.argv[1])
total = sum(cost.values())
for function, n in cost.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 25):
    print(f"{n / total * 100:6.2f}%  {n:>13,}  {function[:140]}")
