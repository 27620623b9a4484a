#!/usr/bin/python3
"""Draws the peers rows of one `ansar-bench` run (its results.jsonl) with gnuplot: round-trip
percentiles and one-way rates of ansar, the peers and raw C side by side, and fan-out against N.
usage: plot.py RESULTS.jsonl OUTPUT.svg"""
import json
import re
import subprocess
import sys


def main(results, output):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    peers = [row for row in rows if row["name"].startswith("peers: ")]
    if not peers:
        sys.exit(f"plot.py: {results} has no peers rows (ansar-bench --only peers makes them)")

    def system(name):
        return re.search(r"\(([^()]*)\)$", name).group(1)

    trips = {}
    raw_trip = {}
    for row in peers:
        match = re.match(r"peers: tcp 64 B round trip (p\d+) ", row["name"])
        if match:
            trips.setdefault(system(row["name"]), {})[match.group(1)] = row["value"]
            raw_trip[match.group(1)] = row["baseline_value"]
    rates = {}
    raw_rate = None
    for row in peers:
        if row["name"].startswith("peers: one-way 64 B messages/s"):
            rates[system(row["name"])] = row["value"] / 1e6
            raw_rate = row["baseline_value"] / 1e6
    fan = {}
    for row in peers:
        match = re.match(r"peers: fan-out 64 B to (\d+), delivered messages/s", row["name"])
        if match:
            fan.setdefault(system(row["name"]), []).append((int(match.group(1)), row["value"] / 1e6))

    def quoted(text):
        return '"' + text.replace('"', "'") + '"'

    trip_data = "\n".join(
        f"{quoted(name)} {values.get('p50', 0)} {values.get('p99', 0)}"
        for name, values in [("raw C", raw_trip)] + sorted(trips.items(), key=lambda item: item[1].get("p50", 0)))
    rate_data = "\n".join(
        f"{quoted(name)} {value}"
        for name, value in [("raw C", raw_rate)] + sorted(rates.items(), key=lambda item: -item[1]))
    fan_blocks = "\n\n\n".join(
        "\n".join(f"{n} {rate}" for n, rate in sorted(points)) for points in fan.values())
    fan_plot = ", ".join(
        f"$fan index {index} using 1:2 with linespoints lw 2 title {quoted(name)}"
        for index, name in enumerate(fan))
    script = f"""
set terminal {"svg size 1200,420 dynamic" if output.endswith(".svg") else "pngcairo size 1200,420"} font "sans,11"
set output {quoted(output)}
$trips << EOD
{trip_data}
EOD
$rates << EOD
{rate_data}
EOD
$fan << EOD
{fan_blocks}
EOD
set multiplot layout 1,3
set bmargin 8
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -40 left font ",9"
set grid ytics
set title "64 B round trip over TCP loopback (µs, lower is better)"
set logscale y
plot $trips using 2:xtic(1) title "p50", '' using 3 title "p99"
unset logscale y
set title "64 B one way (M messages/s, higher is better)"
set logscale y
plot $rates using 2:xtic(1) notitle
unset logscale y
set yrange [0:*]
set style data linespoints
set title "fan-out, 64 B: delivered to all N (M messages/s)"
set logscale x
set xtics norotate autofreq font ",10"
set xlabel "subscribers N"
set key top left
plot {fan_plot}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"plot: {output}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
