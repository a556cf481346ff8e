import SigilService

@main
enum AuditIngestionMain {
    static func main() async {
        await SigilServiceRuntime.main(.auditIngestion)
    }
}
