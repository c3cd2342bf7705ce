"""pytest glue of the fault-injection test: the summary line that the test
records is printed at the end of the run even without -s."""
import faultlib


def pytest_terminal_summary(terminalreporter):
    for line in faultlib.SUMMARY:
        terminalreporter.write_line(line)
