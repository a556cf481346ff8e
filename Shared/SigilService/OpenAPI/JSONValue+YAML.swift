import Foundation
import SigilEvents
import Yams

extension JSONValue {
    /// The value as YAML with sorted keys, strings quoted wherever YAML would read them as something else
    /// (`"200"`, `"true"`, `"2026-11-25"`), so the text reads back as the same JSON.
    public var yaml: String {
        (try? Yams.serialize(node: node, width: -1, sortKeys: true)) ?? ""
    }

    var node: Node {
        switch self {
        case .null: return Node("null", .implicit, .plain)
        case .bool(let value): return Node(value ? "true" : "false", .implicit, .plain)
        case .number(let value):
            let text = value == value.rounded() && abs(value) < 9.0e15 ? String(Int64(value)) : String(value)
            return Node(text, .implicit, .plain)
        case .string(let text):
            return Node(text, .implicit, Self.readsAsOtherThanString(text) ? .doubleQuoted : .any)
        case .array(let values): return Node(values.map(\.node))
        case .object(let fields):
            return Node(fields.sorted { $0.key < $1.key }.map { (JSONValue.string($0.key).node, $0.value.node) })
        }
    }

    /// Whether a plain scalar with this text would be read as a number, boolean, null or time.
    static func readsAsOtherThanString(_ text: String) -> Bool {
        if text.isEmpty || Double(text) != nil || Int(text) != nil { return true }
        let special: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~", "y", "n", ".nan", ".inf"]
        if special.contains(text.lowercased()) { return true }
        return text.first?.isNumber == true && text.contains("-")
    }
}
