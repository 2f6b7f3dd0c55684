import CZeroMQBaseline
import Foundation
import ZeroMQ

/// PUB→SUB throughput and DEALER↔ROUTER latency, Swift binding against libzmq's C API.
struct TransportBenchmark {
    let messages: Int
    let roundTrips: Int
    let rounds: Int

    /// A benchmark step that could not run.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func run() throws {
        print("== Transport: libzmq \(ZeroMQLibrary.version), tcp loopback, \(rounds) rounds, median ==")
        print("PUB→SUB throughput (\(messages) messages per run)")
        print("  " + Figures.padded("size", 8) + Figures.padded("C", 16) + Figures.padded("Swift borrowed", 30)
              + "Swift Frame")
        for size in [256, 1024] {
            var c: [Double] = [], borrowed: [Double] = [], frame: [Double] = []
            for round in 0..<rounds {
                // Alternate the order so neither side always runs first, and pair each Swift run
                // with the C run next to it: the ratio of neighbours cancels slow drifts of the host.
                let runC = {
                    let rate = ganglion_c_pubsub_throughput(size, UInt64(messages))
                    guard rate > 0 else { throw Failure(description: "C PUB→SUB failed: errno \(-rate)") }
                    c.append(rate)
                }
                if round % 2 == 0 { try runC() }
                borrowed.append(try SwiftTransport.pubSubThroughput(size: size, count: messages, style: .borrowed))
                frame.append(try SwiftTransport.pubSubThroughput(size: size, count: messages, style: .frame))
                if round % 2 == 1 { try runC() }
            }
            let base = Figures.median(c)
            let borrowedRatio = Figures.median(zip(borrowed, c).map { $0 / $1 })
            let frameRatio = Figures.median(zip(frame, c).map { $0 / $1 })
            print("  " + Figures.padded("\(size) B", 8) + Figures.padded(Figures.rate(base), 16)
                  + Figures.padded("\(Figures.rate(Figures.median(borrowed))) (\(Figures.fixed(100 * borrowedRatio))% of C)", 30)
                  + "\(Figures.rate(Figures.median(frame))) (\(Figures.fixed(100 * frameRatio))% of C)")
        }
        print("  (rates: medians; ratios: median of each Swift run over its neighbouring C run)")

        print("DEALER↔ROUTER round trip (\(roundTrips) sequential round trips of 256 B per run)")
        var c: [[UInt64]] = [], swift: [[UInt64]] = []
        for _ in 0..<rounds {
            var latencies = [UInt64](repeating: 0, count: roundTrips)
            let result = ganglion_c_roundtrip(256, UInt64(roundTrips), &latencies)
            guard result == 0 else { throw Failure(description: "C round trip failed: errno \(-result)") }
            c.append(latencies)
            swift.append(try SwiftTransport.roundTrips(size: 256, count: roundTrips))
        }
        // The floor of other transports (C only): what any delivery over two hops costs at least.
        var ipc: [[UInt64]] = [], inproc: [[UInt64]] = []
        let socket = NSTemporaryDirectory() + "ganglion-bench-\(getpid()).sock"
        defer { unlink(socket) }
        for _ in 0..<rounds {
            for (endpoint, runs) in [("ipc://" + socket, 0), ("inproc://ganglion-bench", 1)] {
                var latencies = [UInt64](repeating: 0, count: roundTrips)
                let result = ganglion_c_roundtrip_over(endpoint, 256, UInt64(roundTrips), &latencies)
                guard result == 0 else { throw Failure(description: "C round trip over \(endpoint) failed: errno \(-result)") }
                if runs == 0 { ipc.append(latencies) } else { inproc.append(latencies) }
            }
        }
        for (name, runs) in [("C", c), ("Swift", swift), ("C ipc", ipc), ("C inproc", inproc)] {
            let p50 = Figures.median(runs.map { Figures.percentileMicros($0, 50) })
            let p99 = Figures.median(runs.map { Figures.percentileMicros($0, 99) })
            print("  " + Figures.padded(name, 10) + "p50 \(Figures.fixed(p50)) µs   p99 \(Figures.fixed(p99)) µs")
        }
        // `ganglion bench`'s end-to-end shape with nothing but libzmq: the floor under its latency row.
        let relayed = 30_000
        print("DEALER→ROUTER→PUB→SUB end to end, C, 3 contexts, 256 B at 10 000/s (\(relayed) events per run)")
        var relay: [[UInt64]] = []
        for _ in 0..<rounds {
            var latencies = [UInt64](repeating: 0, count: relayed)
            let result = ganglion_c_relay_latency(256, 10_000, UInt64(relayed), &latencies)
            guard result == 0 else { throw Failure(description: "C relay run failed: errno \(-result)") }
            relay.append(latencies)
        }
        let p50 = Figures.median(relay.map { Figures.percentileMicros($0, 50) })
        let p99 = Figures.median(relay.map { Figures.percentileMicros($0, 99) })
        print("  " + Figures.padded("C tcp", 10) + "p50 \(Figures.fixed(p50)) µs   p99 \(Figures.fixed(p99)) µs")
        print("")
    }
}
