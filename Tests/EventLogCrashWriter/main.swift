// A child process for EventLogTests' crash-consistency test: appends batches to a log with
// fsync-every-batch durability and prints `ack <last offset>` after each acknowledged append,
// until it is killed. Every record's value is derived from its offset, so the parent can check
// every acknowledged record after recovery.
//
//   EventLogCrashWriter <directory> <seed>
import EventLog
import Foundation

/// The value the record at `offset` must hold.
func expectedValue(at offset: Int64) -> [UInt8] {
    Array("record-\(offset)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: offset), count: Int(offset % 200))
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let seed = UInt64(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: EventLogCrashWriter <directory> <seed>\n".utf8))
    exit(2)
}
var configuration = LogConfiguration()
configuration.durability = .everyBatch
configuration.segmentBytes = 64 * 1024  // small segments: crashes land around rolls too
let log = try PartitionLog(directory: arguments[1], configuration: configuration)
var state = seed | 1
while true {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    let count = Int(state % 20) + 1
    let base = log.logEndOffset
    var builder = RecordBatchBuilder()
    for offset in base..<(base + Int64(count)) {
        builder.append(key: Array("k\(offset % 7)".utf8), value: expectedValue(at: offset), timestamp: 1_000 + offset)
    }
    let result = try log.append(builder.build())
    FileHandle.standardOutput.write(Data("ack \(result.lastOffset)\n".utf8))
}
