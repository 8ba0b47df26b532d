"""test_check_skips.py -- scripts/check_skips.py (issue 12 item 10): a skip
the allow-list does not name fails the test command, and every skip is
printed, whether CTest skipped the whole test or unittest skipped one case."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "..", "scripts", "check_skips.py")

# The shape `ctest --output-junit` writes (CMake 3.25).
JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="wasmpool" tests="3" failures="0" disabled="0" skipped="1">
  <testcase name="deploy_systemd_unit" classname="deploy_systemd_unit" status="notrun">
    <skipped message="SKIP_RETURN_CODE=77"/>
    <system-out>SKIP: systemd-analyze is not installed (Debian package systemd)
</system-out>
  </testcase>
  <testcase name="integration_cli" classname="integration_cli" status="run">
    <system-out>test_call (__main__.Cli.test_call) ... ok
test_curl (__main__.Cli.test_curl) ... skipped 'curl is not installed'
</system-out>
  </testcase>
  <testcase name="test_alloc_pool" classname="test_alloc_pool" status="run">
    <system-out>[====] Synthesis: Tested: 9 | Passing: 9 | Failing: 0 | Crashing: 0
</system-out>
  </testcase>
</testsuite>
"""


class CheckSkips(unittest.TestCase):
    def run_check(self, allow_text, junit=JUNIT):
        with tempfile.TemporaryDirectory() as tmp:
            junit_path = os.path.join(tmp, "junit.xml")
            allow_path = os.path.join(tmp, "skips.allow")
            with open(junit_path, "w") as f:
                f.write(junit)
            with open(allow_path, "w") as f:
                f.write(allow_text)
            return subprocess.run([sys.executable, CHECK, junit_path, allow_path],
                                  capture_output=True, text=True)

    def test_unlisted_skips_fail_and_are_printed(self):
        r = self.run_check("# nothing may skip\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("skipped tests: 2", r.stdout)
        self.assertIn("NOT ALLOWED deploy_systemd_unit", r.stdout)
        self.assertIn("systemd-analyze is not installed", r.stdout)
        self.assertIn("NOT ALLOWED integration_cli:test_curl", r.stdout)
        self.assertIn("curl is not installed", r.stdout)

    def test_one_unlisted_skip_is_enough_to_fail(self):
        r = self.run_check("deploy_systemd_unit  # a container without systemd\n")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("allowed  deploy_systemd_unit", r.stdout)
        self.assertIn("NOT ALLOWED integration_cli:test_curl", r.stdout)

    def test_listed_skips_pass(self):
        r = self.run_check("deploy_systemd_unit # why\nintegration_cli:test_curl # why\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("skipped tests: 2", r.stdout)

    def test_no_skips_pass(self):
        junit = JUNIT.replace("skipped '", "ok '").replace(
            '<skipped message="SKIP_RETURN_CODE=77"/>', "").replace("notrun", "run")
        r = self.run_check("", junit)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("skipped tests: 0", r.stdout)

    def test_unreadable_report_is_an_error(self):
        r = self.run_check("", "not xml")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
