import SigilService

@main
enum PolicyDecisionMain {
    static func main() async {
        await SigilServiceRuntime.main(.policyDecision)
    }
}
