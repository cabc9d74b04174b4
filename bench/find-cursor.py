"""The URL of a deep page of one list for bench/run's "find" part: follows
`Link` through 90 % of the walk (1000 a page; 5 tasks for a user of 10),
then asks for 10 from there. Prints nothing when the list is too short.

    find-cursor.py BASE USER QUERY "Authorization: Bearer ..."
"""
import sys
import urllib.request

base, user, query, auth = sys.argv[1:5]
name, value = auth.split(": ", 1)


def get(path):
    request = urllib.request.Request(base + path, headers={name: value})
    with urllib.request.urlopen(request) as response:
        link = response.headers.get("Link")
        return len(response.read()), link


big = user == "big"
path = f"/api/{user}/tasks?limit={1000 if big else 5}&{query}"
pages = 90 if big else 1
for _ in range(pages):
    _, link = get(path)
    if not link:
        sys.exit(0)
    path = link[1 : link.index(">")]
print(base + path.replace("limit=1000&", "limit=10&").replace("limit=5&", "limit=10&"))
