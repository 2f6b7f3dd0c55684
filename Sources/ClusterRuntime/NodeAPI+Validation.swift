import EventLog
import Foundation
import GanglionWire
import SchemaRegistry

/// Schema validation of produced batches (only for topics bound to a subject: the hot path of
/// other topics never decodes an event).
extension NodeAPI {
    /// Checks every record of a batch; the first violation refuses the whole batch.
    func validate(_ batch: UnsafeRawBufferPointer, topic: String, subject: String, full: Bool) throws {
        let records: [Record]
        do {
            records = try RecordDecoder.records(in: batch)
        } catch {
            throw ProtocolFailure(.corruptBatch, "the batch does not decode: \(error)")
        }
        let state = registry.state
        for (index, record) in records.enumerated() {
            do {
                try validate(record.value ?? [], subject: subject, full: full, in: state)
            } catch let violation as SchemaViolation {
                NodeMetrics.schemaRejected(topic: topic, reason: violation.reason, events: records.count)
                throw ProtocolFailure(.schemaViolation, "record \(index) of the batch to \(topic): \(violation.message); nothing of the batch was stored")
            }
        }
    }

    /// A value is Confluent-framed protobuf (first byte 0) or an event envelope.
    private func validate(_ value: [UInt8], subject: String, full: Bool, in state: RegistryState) throws {
        if value.first == 0 {
            try validator.validate(payload: value, schemaID: 0, messageName: "", subject: subject, full: full, in: state)
            return
        }
        guard let envelope = try? EventEnvelope(serializedBytes: value) else {
            throw SchemaViolation(reason: "not_an_event", message: "the value is neither an event envelope nor Confluent-framed protobuf")
        }
        try validator.validate(payload: Array(envelope.data), schemaID: envelope.schemaID, messageName: envelope.messageName,
                               subject: subject, full: full, in: state)
    }
}
