import ArgumentParser
import Foundation
import Ganglion

/// `ganglion workload`: the two halves of a fault test's history, for a checker outside the
/// system (cluster/): `produce` records every acknowledged record as JSON lines while it
/// writes, and `read` reads every record back. The checker compares the two; nothing here
/// decides whether anything was lost.
struct WorkloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workload",
        abstract: "Fault-test workloads: produce with every acknowledgement recorded, and read everything back.",
        subcommands: [Produce.self, Read.self])

    /// `ganglion workload produce`.
    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Produce key:sequence values with an idempotent producer (acks=all), one line per outcome.",
            discussion: """
                Each of --keys keys gets values "<key>:<sequence>" in order, one in flight per key, about --rate \
                records a second in all, for --seconds. Every outcome is a JSON line on --out: {"type":"ack","key", \
                "seq","partition","offset","ms"} or {"type":"fail","key","seq","error","ms"} (a failure's record may \
                or may not be stored). Calls wait --timeout-ms before a retry; an idempotent retry is stored once.
                """)
        @OptionGroup var node: NodeAddress
        @Option(help: "The topic.") var topic: String
        @Option(help: "How many keys.") var keys = 8
        @Option(help: "Records per second in all.") var rate = 200.0
        @Option(help: "How long to produce.") var seconds = 10.0
        @Option(help: "How long one request waits for its answer (ms).") var timeoutMs = 3_000
        @Option(help: "Where the outcomes go (JSON lines).") var out: String

        func run() async throws {
            do {
                let client = try await node.client(timeout: .milliseconds(timeoutMs))
                defer { client.close() }
                var configuration = ProducerConfiguration()
                configuration.maxAttempts = 1_000
                let producer = try await Producer(client: client, configuration: configuration)
                let history = try HistoryFile(path: out)
                let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
                let pause = Duration.milliseconds(Int(1000 * Double(keys) / max(rate, 0.001)))
                let topic = self.topic
                let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                    for key in 0..<keys {
                        group.addTask {
                            var acked = 0, failed = 0, sequence = 0
                            while ContinuousClock.now < end {
                                let started = ContinuousClock.now
                                let name = "k\(key)"
                                do {
                                    let stored = try await producer.send(topic: topic, key: Array(name.utf8), value: Array("\(name):\(sequence)".utf8))
                                    history.write(["type": "ack", "key": name, "seq": sequence, "partition": Int(stored.partition), "offset": stored.offset,
                                                   "ms": Self.now()])
                                    acked += 1
                                } catch {
                                    history.write(["type": "fail", "key": name, "seq": sequence, "error": "\(error)", "ms": Self.now()])
                                    failed += 1
                                }
                                sequence += 1
                                let next = started + pause
                                if next > ContinuousClock.now { try await Task.sleep(until: next) }
                            }
                            return (acked, failed)
                        }
                    }
                    return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
                }
                history.close()
                print("acknowledged \(counts.0), failed \(counts.1)")
            } catch { throw failCommand(error) }
        }

        static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    /// `ganglion workload read`.
    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every record of a topic back from its partitions' leaders, one JSON line each.",
            discussion: "Lines: {\"partition\",\"offset\",\"key\",\"value\"} (key and value as UTF-8 text).")
        @OptionGroup var node: NodeAddress
        @Option(help: "The topic.") var topic: String
        @Option(help: "Where the records go (JSON lines).") var out: String

        func run() async throws {
            do {
                let client = try await node.client()
                defer { client.close() }
                let described = try await client.describeTopic(topic)
                let history = try HistoryFile(path: out)
                var count = 0
                for partition in described.partitions {
                    let start = try await client.logStart(of: partition, topic: topic)
                    for record in try await client.readAll(topic: topic, partition: partition.partition, from: start) {
                        history.write(["partition": Int(partition.partition), "offset": record.offset,
                                       "key": String(decoding: record.key ?? [], as: UTF8.self), "value": String(decoding: record.value ?? [], as: UTF8.self)])
                        count += 1
                    }
                }
                history.close()
                print("read \(count) records")
            } catch { throw failCommand(error) }
        }
    }
}

/// JSON lines appended to a file, from any task.
final class HistoryFile: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle

    init(path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        self.handle = handle
    }

    /// Writes one line.
    func write(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        lock.withLock { handle.write(data + Data("\n".utf8)) }
    }

    /// Closes the file.
    func close() { lock.withLock { try? handle.close() } }
}
