import ClusterCore
import Foundation
import GanglionClients
import GanglionWire

extension AgentHost {
    /// The event a dead letter is about: the one it holds, or — when that was too large to hold
    /// beside the letter's reason (the extension ``AgentAsk/deadLetterOmittedKey``) — the one
    /// read back from where the letter says it was consumed (`topic`, `partition`, `offset`).
    /// Throws an error naming what is missing when the letter holds no event and its input is
    /// no longer retained.
    public static func originalEvent(of letter: EventEnvelope, client: GanglionClient) async throws -> EventEnvelope {
        guard letter.extensions[AgentAsk.deadLetterOmittedKey] != nil, letter.data.isEmpty else {
            do { return try EventEnvelope(serializedBytes: letter.data) } catch {
                throw GanglionError(code: .malformedRequest, message: "the dead letter of \(letter.causationID) does not hold an event envelope")
            }
        }
        let ext = letter.extensions
        guard let topic = ext["topic"], let partition = ext["partition"].flatMap(UInt32.init), let offset = ext["offset"].flatMap(Int64.init) else {
            throw GanglionError(code: .malformedRequest,
                                message: "the dead letter of \(letter.causationID) holds no event and names no topic, partition and offset to read it from")
        }
        let (_, bytes) = try await client.fetch(topic: topic, partition: partition, offset: offset, maxBytes: 8 << 20)
        guard let record = try PartitionStream.records(in: bytes, base: nil).first(where: { $0.offset == offset }) else {
            throw GanglionError(code: .offsetOutOfRange,
                                message: "the event of the dead letter of \(letter.causationID) is no longer at \(topic)-\(partition)@\(offset) (retention removed it)")
        }
        guard let event = try? EventEnvelope(serializedBytes: record.value ?? []) else {
            throw GanglionError(code: .malformedRequest, message: "\(topic)-\(partition)@\(offset) does not hold an event envelope")
        }
        guard event.id == letter.causationID else {
            throw GanglionError(code: .offsetOutOfRange,
                                message: "\(topic)-\(partition)@\(offset) holds event \(event.id), not \(letter.causationID) of the dead letter")
        }
        return event
    }
}
