import ArgumentParser
import CZeroMQBaseline

/// `ganglion-benchmarks`: prints the figures the transport and envelope goals are judged by.
///
/// Run with `scripts/bench.sh` (a release build). Every transport figure is measured for the Swift
/// binding and for libzmq's C API in the same run, interleaved, and the median of the rounds is
/// reported with the Swift/C ratio.
@main
struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ganglion-benchmarks",
        abstract: "Transport (Swift binding vs libzmq C) and envelope codec benchmarks."
    )

    @Option(help: "Messages per PUB→SUB throughput run.")
    var messages = 1_000_000

    @Option(help: "Round trips per DEALER↔ROUTER latency run.")
    var roundTrips = 20_000

    @Option(help: "Envelopes per encode/decode run.")
    var envelopes = 200_000

    @Option(help: "Runs of each measurement; the median is reported.")
    var rounds = 5

    @Option(help: "Seconds per event-log append measurement.")
    var logSeconds = 2.0

    @Option(help: "Directory for the event-log benchmark (created and removed).")
    var logDirectory = "/tmp/ganglion-log-benchmark"

    @Option(help: "Handled events per shard-changelog run.")
    var changelogEvents = 100_000

    @Option(help: "What to run: all, transport, envelope, log, schema, registry or changelog.")
    var only: Suite = .all

    enum Suite: String, ExpressibleByArgument {
        case all, transport, envelope, log, schema, registry, changelog
    }

    func validate() throws {
        guard messages >= 1000, roundTrips >= 100, envelopes >= 1000, changelogEvents >= 1000, (1...20).contains(rounds), logSeconds > 0 else {
            throw ValidationError("need messages ≥ 1000, round-trips ≥ 100, envelopes ≥ 1000, changelog-events ≥ 1000, 1…20 rounds and log-seconds > 0")
        }
    }

    func run() throws {
        ganglion_line_buffer_stdout()  // figures appear as they are measured, even when piped
        #if DEBUG
        print("warning: a debug build; run scripts/bench.sh for release figures\n")
        #endif
        if only == .all || only == .transport {
            try TransportBenchmark(messages: messages, roundTrips: roundTrips, rounds: rounds).run()
        }
        if only == .all || only == .envelope {
            try EnvelopeBenchmark(envelopes: envelopes, rounds: rounds).run()
        }
        if only == .all || only == .schema {
            try SchemaBenchmark(rounds: rounds).run()
        }
        if only == .all || only == .registry {
            try RegistryBenchmark(rounds: rounds).run()
        }
        if only == .all || only == .changelog {
            ChangelogBenchmark(events: changelogEvents, rounds: rounds).run()
        }
        if only == .all || only == .log {
            try LogBenchmark(directory: logDirectory, seconds: logSeconds).run()
        }
    }
}
