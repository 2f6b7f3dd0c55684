import Foundation

/// How commands print lists: aligned columns for a person, or JSON for a program.
enum CommandOutput {
    /// `rows` under `header`, each column as wide as its widest cell; `empty` when there are no rows.
    static func table(header: [String], rows: [[String]], empty: String) -> String {
        guard !rows.isEmpty else { return empty }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n")
    }

    /// `value` as pretty JSON with sorted keys.
    static func json<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}
