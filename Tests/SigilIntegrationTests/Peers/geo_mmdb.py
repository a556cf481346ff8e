"""Writes a small GeoIP2-City-layout .mmdb for the geography tests, with the mmdb-writer package (PyPI).

Usage: geo_mmdb.py OUT.mmdb [NETWORK=COUNTRY[/SUBDIVISION] ...]; without networks, the tests' default set.
"""
import sys

from mmdb_writer import MMDBWriter
from netaddr import IPSet

DEFAULT = [
    "81.2.69.0/24=GB/ENG",
    "216.160.83.0/24=US/WA",
    "89.160.20.0/24=SE/E",
    "2001:db8:1::/48=DE/BY",
    "2001:db8:2::/48=JP",
]


def main():
    out = sys.argv[1]
    networks = sys.argv[2:] or DEFAULT
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True,
                        description="Sigil test geography")
    for entry in networks:
        network, place = entry.split("=")
        country, _, subdivision = place.partition("/")
        record = {"country": {"iso_code": country, "names": {"en": country}}}
        if subdivision:
            record["subdivisions"] = [{"iso_code": subdivision}]
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(out)


if __name__ == "__main__":
    main()
