import ClusterCore
import EventLog
import Foundation
import SchemaRegistry

/// One entry of the metadata log as both Raft and the disk see it. On disk it is a one-record
/// batch exactly as a cluster of one writes it (no key: a cluster record; key `registry`: a
/// registry record), plus the key `raft.noop` for the empty entry a new leader appends. In a
/// Raft message its bytes are a tag (0 cluster, 1 registry) followed by the record's JSON.
enum MetadataEntry: Sendable {
    /// A cluster record (topics, producers, groups, nodes).
    case metadata(MetadataRecord)
    /// A schema registry record.
    case registry(RegistryRecord)
    /// A new leader's no-op (nothing to apply).
    case noop

    /// The key of registry records.
    static let registryKey = Array("registry".utf8)
    /// The key of a leader's no-op.
    static let noopKey = Array("raft.noop".utf8)
    /// Records encode with sorted keys: the same record, the same bytes.
    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    /// The entry stored as `key` and `value`.
    init(key: [UInt8]?, value: [UInt8]?) throws {
        if key == Self.noopKey {
            self = .noop
        } else if key == Self.registryKey {
            self = .registry(try JSONDecoder().decode(RegistryRecord.self, from: Data(value ?? [])))
        } else {
            self = .metadata(try JSONDecoder().decode(MetadataRecord.self, from: Data(value ?? [])))
        }
    }

    /// The entry carried by a Raft entry.
    init(_ entry: RaftEntry) throws {
        guard entry.kind == .command else {
            self = .noop
            return
        }
        guard let tag = entry.data.first else {
            throw MetadataEntryError(message: "Raft entry \(entry.index) carries no command")
        }
        let json = Data(entry.data.dropFirst())
        switch tag {
        case 0: self = .metadata(try JSONDecoder().decode(MetadataRecord.self, from: json))
        case 1: self = .registry(try JSONDecoder().decode(RegistryRecord.self, from: json))
        default: throw MetadataEntryError(message: "Raft entry \(entry.index) has unknown command tag \(tag)")
        }
    }

    /// The bytes of a Raft command entry.
    func raftData() throws -> [UInt8] {
        switch self {
        case .metadata(let record): return [0] + Array(try Self.encoder.encode(record))
        case .registry(let record): return [1] + Array(try Self.encoder.encode(record))
        case .noop: return []
        }
    }

    /// The Raft entry at `index` of `term` stored as `key` and `value` (the stored bytes kept as they are).
    static func raftEntry(index: Int64, term: Int64, key: [UInt8]?, value: [UInt8]?) throws -> RaftEntry {
        if key == noopKey { return RaftEntry(term: term, index: index, kind: .leaderNoop) }
        guard key == nil || key == registryKey else {
            throw MetadataEntryError(message: "metadata record at offset \(index - 1) has an unknown key")
        }
        return RaftEntry(term: term, index: index, kind: .command, data: [key == nil ? 0 : 1] + (value ?? []))
    }

    /// The one-record batch that stores `entry`.
    static func batch(for entry: RaftEntry, timestamp: Int64) throws -> [UInt8] {
        var builder = RecordBatchBuilder()
        switch try MetadataEntry(entry) {
        case .noop: builder.append(key: noopKey, value: [], timestamp: timestamp)
        case .metadata: builder.append(key: nil, value: Array(entry.data.dropFirst()), timestamp: timestamp)
        case .registry: builder.append(key: registryKey, value: Array(entry.data.dropFirst()), timestamp: timestamp)
        }
        return builder.build()
    }
}

/// A metadata entry that does not decode.
struct MetadataEntryError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
