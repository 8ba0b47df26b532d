#!/usr/bin/env python3
"""check_skips.py -- print every test that skipped and fail on the ones that
should have run.

    scripts/check_skips.py JUNIT_XML ALLOW_LIST

JUNIT_XML is what `ctest --output-junit` wrote. Two kinds of skip are found:
a CTest test that did not run (SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION,
reported as <skipped>), and a Python unittest case inside a test that passed
("test_x (...) ... skipped 'why'" in its verbose output). Every skip is
printed; each must be named in ALLOW_LIST, one name per line ("ctest_name"
or "ctest_name:unittest_case"), '#' starting a comment that says why.

Exit status: 0 when every skip is allowed, 1 when one is not, 2 on a usage
or input error. A skip on a fresh Debian 12 after scripts/bootstrap.sh is a
missing package or a broken probe, not something to wave through.
"""

import re
import sys
import xml.etree.ElementTree as ET

UNITTEST_SKIP = re.compile(r"^(test\w*) \([^)]*\)(?:\n.*?)? \.\.\. skipped '(.*)'$", re.M)


def read_allow_list(path):
    allowed = set()
    with open(path) as f:
        for line in f:
            name = line.split("#", 1)[0].strip()
            if name:
                allowed.add(name)
    return allowed


def find_skips(junit_path):
    """(name, reason) for every skip, in the order of the report."""
    skips = []
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        name = case.get("name")
        out = case.findtext("system-out") or ""
        skipped = case.find("skipped")
        if skipped is not None:
            first = next((ln for ln in out.splitlines() if "SKIP" in ln), "")
            skips.append((name, (skipped.get("message") or "") + (": " + first if first else "")))
            continue
        for m in UNITTEST_SKIP.finditer(out):
            skips.append(("%s:%s" % (name, m.group(1)), m.group(2)))
    return skips


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        allowed = read_allow_list(argv[2])
        skips = find_skips(argv[1])
    except (OSError, ET.ParseError) as e:
        print("check_skips: %s" % e, file=sys.stderr)
        return 2
    bad = 0
    print("skipped tests: %d" % len(skips))
    for name, reason in skips:
        ok = name in allowed
        bad += not ok
        print("  %s %s -- %s" % ("allowed " if ok else "NOT ALLOWED", name, reason))
    if bad:
        print("check_skips: %d test(s) skipped that must run here; install what they need "
              "(scripts/bootstrap.sh) or add them, with the reason, to %s" % (bad, argv[2]),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
