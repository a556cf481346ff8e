// make bench's second anchor for the database path: a PostgreSQL relay whose bytes the kernel moves, once logged in.
//
// It relays the login in user space, as the edge does, and at the upstream's first ReadyForQuery (the workload is
// then waiting for it, the database for a query: nothing in flight) it puts both sockets in a BPF sockhash whose
// sk_skb verdict program sends whatever either socket receives straight out of the other. From there no process
// wakes up for a query: it is the cheapest relay a hop can be on Linux, the floor under the edge and nginx's stream
// proxy. The program is ten instructions, written out here (no clang, no libbpf): read the receiving socket's cookie,
// look up its partner under that cookie, redirect.
//
// Usage: splice_relay LISTEN_PORT UPSTREAM_PORT (both on 127.0.0.1). Needs CAP_BPF and CAP_NET_ADMIN (root here);
// without them it says so and exits 3, and make bench leaves the row out. A login over TLS ('S' to an SSLRequest)
// is relayed in user space throughout and counted on stderr, so a figure is never taken for spliced when it was not.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sockhash;
static int upstream_port;

static int bpf(int command, union bpf_attr *attributes) {
  return (int)syscall(__NR_bpf, command, attributes, sizeof(*attributes));
}

static uint64_t cookie(int fd) {
  uint64_t value = 0;
  socklen_t size = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &value, &size) != 0) perror("SO_COOKIE");
  return value;
}

// Under `key`'s cookie, the socket that receives what `key` receives.
static int pair(int key, int partner) {
  uint64_t k = cookie(key), v = (uint64_t)partner;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)sockhash;
  a.key = (uint64_t)(uintptr_t)&k;
  a.value = (uint64_t)(uintptr_t)&v;
  a.flags = BPF_ANY;
  return bpf(BPF_MAP_UPDATE_ELEM, &a);
}

static int write_all(int fd, const char *bytes, ssize_t count) {
  while (count > 0) {
    ssize_t n = write(fd, bytes, (size_t)count);
    if (n <= 0) return -1;
    bytes += n;
    count -= n;
  }
  return 0;
}

// Where the upstream's byte stream stands: the one-byte answer to an SSLRequest, then typed messages
// (type, int32 length including itself, body).
struct upstream_reader {
  int awaiting_ssl_answer;
  int tls;
  unsigned char header[5];
  int header_bytes;
  uint32_t body_left;
  unsigned char type;
};

// True when `bytes` end exactly after a ReadyForQuery message.
static int ends_ready(struct upstream_reader *r, const unsigned char *bytes, ssize_t count) {
  int ready = 0;
  for (ssize_t i = 0; i < count;) {
    if (r->awaiting_ssl_answer) {
      r->awaiting_ssl_answer = 0;
      r->tls = bytes[i] == 'S';
      i += 1;
      continue;
    }
    if (r->tls) return 0;
    if (r->body_left > 0) {
      ssize_t take = count - i < (ssize_t)r->body_left ? count - i : (ssize_t)r->body_left;
      r->body_left -= (uint32_t)take;
      i += take;
    } else {
      r->header[r->header_bytes++] = bytes[i++];
      if (r->header_bytes == 5) {
        uint32_t length;
        memcpy(&length, r->header + 1, 4);
        r->type = r->header[0];
        r->body_left = ntohl(length) - 4;
        r->header_bytes = 0;
      }
    }
    ready = r->header_bytes == 0 && r->body_left == 0 && r->type == 'Z';
  }
  return ready;
}

static void *serve(void *argument) {
  int workload = (int)(intptr_t)argument, spliced = 0;
  int database = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)upstream_port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  if (connect(database, (struct sockaddr *)&address, sizeof address) != 0) goto done;
  setsockopt(workload, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(database, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  struct upstream_reader reader = {0};
  char buffer[65536];
  int first_message = 1;
  struct pollfd both[2] = {{workload, POLLIN, 0}, {database, POLLIN, 0}};
  while (!spliced) {
    if (poll(both, 2, -1) < 0) continue;
    if (both[0].revents) {
      ssize_t n = read(workload, buffer, sizeof buffer);
      if (n <= 0) goto done;
      // An SSLRequest is 8 bytes: length 8, code 80877103.
      if (first_message && n == 8 && memcmp(buffer, "\0\0\0\x08\x04\xd2\x16\x2f", 8) == 0)
        reader.awaiting_ssl_answer = 1;
      first_message = 0;
      if (write_all(database, buffer, n) != 0) goto done;
    }
    if (both[1].revents) {
      ssize_t n = read(database, buffer, sizeof buffer);
      if (n <= 0) goto done;
      if (ends_ready(&reader, (unsigned char *)buffer, n)) {
        if (pair(workload, database) != 0 || pair(database, workload) != 0) {
          perror("sockhash update");
          goto done;
        }
        spliced = 1;
      }
      if (write_all(workload, buffer, n) != 0) goto done;
    }
  }
  // The kernel relays from here; the relay only waits for either side to hang up.
  struct pollfd hangups[2] = {{workload, POLLRDHUP, 0}, {database, POLLRDHUP, 0}};
  while (poll(hangups, 2, -1) < 0 && errno == EINTR) {}
done:
  if (!spliced) fprintf(stderr, "splice_relay: a connection ended without being spliced\n");
  close(workload);
  close(database);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: splice_relay LISTEN_PORT UPSTREAM_PORT\n");
    return 2;
  }
  int port = atoi(argv[1]);
  upstream_port = atoi(argv[2]);

  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_SOCKHASH;
  a.key_size = 8;
  a.value_size = 8;
  a.max_entries = 4096;
  sockhash = bpf(BPF_MAP_CREATE, &a);
  if (sockhash < 0) {
    fprintf(stderr, "splice_relay: no sockhash (%s): BPF needs CAP_BPF and CAP_NET_ADMIN\n", strerror(errno));
    return 3;
  }
  struct bpf_insn verdict[] = {
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0},          // r6 = skb
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie},           // r0 = cookie(skb's socket)
      {BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_0, -8, 0},         // key on the stack
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0},          // r1 = skb
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, sockhash},  // r2 = the sockhash
      {0, 0, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0},         // r3 = &key
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -8},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0},                  // flags 0: out of the partner
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash},           // SK_PASS if found, else SK_DROP
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static char log[16384];
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insn_cnt = sizeof verdict / sizeof verdict[0];
  a.insns = (uint64_t)(uintptr_t)verdict;
  a.license = (uint64_t)(uintptr_t) "GPL";
  a.log_level = 1;
  a.log_size = sizeof log;
  a.log_buf = (uint64_t)(uintptr_t)log;
  int program = bpf(BPF_PROG_LOAD, &a);
  if (program < 0) {
    fprintf(stderr, "splice_relay: the verdict program was refused (%s)\n%s\n", strerror(errno), log);
    return 3;
  }
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)sockhash;
  a.attach_bpf_fd = (uint32_t)program;
  a.attach_type = BPF_SK_SKB_VERDICT;
  if (bpf(BPF_PROG_ATTACH, &a) != 0) {
    fprintf(stderr, "splice_relay: cannot attach the verdict program (%s)\n", strerror(errno));
    return 3;
  }

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0) {
    perror("splice_relay: listen");
    return 1;
  }
  for (;;) {
    int connection = accept(listener, NULL, NULL);
    if (connection < 0) continue;
    pthread_t thread;
    if (pthread_create(&thread, NULL, serve, (void *)(intptr_t)connection) != 0) {
      close(connection);
      continue;
    }
    pthread_detach(thread);
  }
}
