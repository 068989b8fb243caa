// stampblast: paced UDP load generator speaking STAMP (RFC 8762, Session-Sender side).
//
// Sends STAMP test packets at a fixed rate to a Session-Reflector, from several UDP source
// ports (-n: one connected socket, hence one STAMP session, per port), matches each reply by
// its Session-Sender Sequence Number and the socket it came back on, and reports loss and RTT.
//
// Packets (RFC 8762 section 4.2 / 4.3; the SSID of RFC 8972 section 3 in the first MBZ octets):
//   unauthenticated, 44 octets: seq(4) timestamp(8) error-estimate(2) SSID(2) MBZ(28)
//   authenticated, 112 octets:  seq(4) MBZ(12) timestamp(8) error-estimate(2) SSID(2) MBZ(68)
//                               HMAC(16) = HMAC-SHA-256 of the first 96 octets, truncated
// Replies (same sizes):
//   unauthenticated: seq(4) t3(8) err(2) SSID(2) t2(8) sender-seq(4) t1(8) sender-err(2)
//                    MBZ(2) sender-TTL(1) MBZ(3)
//   authenticated:   seq(4) MBZ(12) t3(8) err(2) SSID(2) MBZ(4) t2(8) MBZ(8) sender-seq(4)
//                    MBZ(12) t1(8) sender-err(2) MBZ(6) sender-TTL(1) MBZ(15) HMAC(16)
// Timestamps are NTP 64-bit (seconds since 1900 . fraction); a reflector whose error estimate
// has the Z bit set uses the PTPv2 truncated format (seconds . nanoseconds) for t2 and t3.
//
// RTT: t4 - t1, t4 the kernel receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) and t1 the
// sender timestamp echoed in the reply (checked against the one sent); "net" RTT subtracts the
// reflector's dwell: t4 - t1 - (t3 - t2). Same pacing loop as shared/tools/probeblast.c.
//
// Written from the RFC text for the llama bench; no llama code is used.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "_stampblast_proc.h"

#ifdef HAVE_LIBCRYPTO
#include <openssl/core_names.h>
#include <openssl/evp.h>
#endif

#ifdef HAVE_LIBCRYPTO
#define HAS_AUTH 1
#else
#define HAS_AUTH 0
#endif

#define MAX_BATCH 256
#define RX_BATCH 64
#define RX_BUFSZ 2048
#define MAX_SOCKETS 64
#define UNAUTH_LEN 44
#define AUTH_LEN 112
#define HMAC_COVERED 96
#define NTP_UNIX_OFFSET 2208988800ull

static uint64_t clk_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t ns_to_ntp(uint64_t ns) {
  uint64_t sec = ns / 1000000000ull + NTP_UNIX_OFFSET, sub = ns % 1000000000ull;
  return (sec << 32) | ((sub << 32) / 1000000000ull);
}

// Rounds to the nearest ns, so that ntp_to_ns(ns_to_ntp(x)) == x.
static uint64_t ntp_to_ns(uint64_t ntp) {
  uint64_t sec = (ntp >> 32) - NTP_UNIX_OFFSET, frac = ntp & 0xffffffffull;
  return sec * 1000000000ull + ((frac * 1000000000ull + (1ull << 31)) >> 32);
}

static uint64_t ptp_to_ns(uint64_t ptp) { return (ptp >> 32) * 1000000000ull + (ptp & 0xffffffffull); }

static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i)); }
static void put_be64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i)); }
static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }

// Field offsets of a reply, by mode.
struct layout {
  size_t len, t3, err, ssid, t2, sender_seq, t1, sender_ttl;
};
static const struct layout UNAUTH = {UNAUTH_LEN, 4, 12, 14, 16, 24, 28, 40};
static const struct layout AUTH = {AUTH_LEN, 16, 24, 26, 32, 48, 64, 80};

// ---- HMAC ------------------------------------------------------------------------------------
struct hmac {
  int enabled;
#ifdef HAVE_LIBCRYPTO
  EVP_MAC_CTX *ctx;
#endif
};

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the key `id` (the first key when id is NULL) from a file of `ID HEX_SECRET` lines.
static int read_key(const char *path, const char *id, uint8_t *key, size_t *key_len) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "stampblast: cannot open key file %s: %s\n", path, strerror(errno)); return -1; }
  char line[1024];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char name[256], hex[700];
    int n = sscanf(line, "%255s %699s", name, hex);
    if (n <= 0) continue;
    if (n != 2) { fprintf(stderr, "stampblast: %s:%d: expected \"ID HEX_SECRET\"\n", path, lineno); break; }
    if (id && strcmp(id, name)) continue;
    size_t hl = strlen(hex);
    if (hl % 2 || hl == 0 || hl / 2 > 256) {
      fprintf(stderr, "stampblast: %s:%d: the secret must be an even number of hex digits (2-512)\n", path, lineno);
      break;
    }
    for (size_t i = 0; i < hl / 2; i++) {
      int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) { fprintf(stderr, "stampblast: %s:%d: the secret is not hex\n", path, lineno); fclose(f); return -1; }
      key[i] = (uint8_t)(hi << 4 | lo);
    }
    *key_len = hl / 2;
    fclose(f);
    return 0;
  }
  if (feof(f)) fprintf(stderr, "stampblast: %s holds no key%s%s\n", path, id ? " with ID " : "", id ? id : "");
  fclose(f);
  return -1;
}

static int hmac_open(struct hmac *h, const uint8_t *key, size_t key_len) {
#ifdef HAVE_LIBCRYPTO
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (!mac) return -1;
  h->ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end()};
  if (!h->ctx || !EVP_MAC_init(h->ctx, key, key_len, params)) return -1;
  h->enabled = 1;
  return 0;
#else
  (void)h, (void)key, (void)key_len;
  fprintf(stderr, "stampblast: built without libcrypto (install libssl-dev and rebuild): no authenticated mode\n");
  return -1;
#endif
}

// HMAC-SHA-256 of the first 96 octets of `p`, truncated to 16 octets.
static void hmac_sign(struct hmac *h, const uint8_t *p, uint8_t out[16]) {
#ifdef HAVE_LIBCRYPTO
  uint8_t full[32];
  size_t n = 0;
  EVP_MAC_init(h->ctx, NULL, 0, NULL);  // same key, fresh state
  EVP_MAC_update(h->ctx, p, HMAC_COVERED);
  EVP_MAC_final(h->ctx, full, &n, sizeof full);
  memcpy(out, full, 16);
#else
  (void)h, (void)p;
  memset(out, 0, 16);
#endif
}

// ---- statistics ------------------------------------------------------------------------------
static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static double pct(const uint32_t *v, size_t n, double p) {
  if (!n) return NAN;
  size_t idx = (size_t)ceil(p / 100.0 * (double)n);
  if (idx < 1) idx = 1;
  if (idx > n) idx = n;
  return v[idx - 1] / 1000.0;  // ns -> us
}

static uint32_t clamp_u32(uint64_t v) { return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v; }

#define JF(key, v, prec) \
  (isfinite(v) ? printf(",\"%s\":%.*f", key, prec, (double)(v)) : printf(",\"%s\":null", key))

static void print_rtt(const char *name, uint32_t *v, uint64_t n) {
  qsort(v, n, sizeof *v, cmp_u32);
  double mean = 0;
  for (uint64_t i = 0; i < n; i++) mean += v[i];
  mean = n ? mean / (double)n / 1000.0 : NAN;
  printf(",\"%s\":{\"n\":%" PRIu64, name, n);
  JF("p50", pct(v, n, 50), 1);
  JF("p90", pct(v, n, 90), 1);
  JF("p99", pct(v, n, 99), 1);
  JF("p999", pct(v, n, 99.9), 1);
  JF("max", n ? v[n - 1] / 1000.0 : NAN, 1);
  JF("mean", mean, 1);
  printf("}");
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [-a addr] [-p port] [-r pps] [-d seconds] [-w drain_ms] [-n sockets]\n"
          "          [-K key_file [-I key_id]] [-s ssid] [-S] [-t tos] [-b max_batch] [-c reflector_pid]\n"
          "          [-i tick_us] [-V]\n"
          "  -a  reflector address (127.0.0.1; an IPv6 literal such as ::1 also works)\n"
          "  -p  reflector UDP port (862)\n"
          "  -r  send rate over all sockets, packets/s (1000)\n"
          "  -d  send duration, seconds (10)\n"
          "  -w  wait for stragglers after the last send, ms (1000); later = lost\n"
          "  -n  UDP source ports (sockets, each its own STAMP session), packets round-robin (1)\n"
          "  -K  authenticated mode (112-byte packets) with a key from this file: `ID HEX_SECRET`\n"
          "      lines, `#` comments; -I picks the key by ID (default: the first)%s\n"
          "  -s  SSID of the first socket (RFC 8972; the next sockets count up from it; default random)\n"
          "  -S  the reflector is stateful: report forward/backward loss from its sequence numbers\n"
          "  -t  IP TOS / traffic class byte of the packets (0)\n"
          "  -b  max packets per sendmmsg call (64)\n"
          "  -c  PID of the reflector: report its CPU%% during the send phase and RSS\n"
          "  -i  loop tick, us (0 = wake on every reply; default 0 if -r <= 2000, else 20)\n"
          "Prints one JSON line. -V prints what this build supports, as JSON.\n",
          argv0,
#ifdef HAVE_LIBCRYPTO
          ""
#else
          "\n      (this build has no libcrypto: -K is refused)"
#endif
  );
  exit(2);
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1", *key_file = NULL, *key_id = NULL;
  int port = 862, tos = 0, maxbatch = 64, refl_pid = 0, nsock = 1, stateful = 0, ssid_base = -1;
  double rate = 1000, duration = 10, drain_ms = 1000, tick_us = -1;
  int opt;
  while ((opt = getopt(argc, argv, "a:p:r:d:w:n:K:I:s:St:b:c:i:jVh")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'd': duration = atof(optarg); break;
      case 'w': drain_ms = atof(optarg); break;
      case 'n': nsock = atoi(optarg); break;
      case 'K': key_file = optarg; break;
      case 'I': key_id = optarg; break;
      case 's': ssid_base = atoi(optarg); break;
      case 'S': stateful = 1; break;
      case 't': tos = atoi(optarg); break;
      case 'b': maxbatch = atoi(optarg); break;
      case 'c': refl_pid = atoi(optarg); break;
      case 'i': tick_us = atof(optarg); break;
      case 'V':  // what this build can do, for the bench
        printf("{\"authenticated\":%s}\n", HAS_AUTH ? "true" : "false");
        return 0;
      case 'j': break;  // JSON is the only output; accepted for probeblast's command lines
      default: usage(argv[0]);
    }
  }
  if (rate <= 0 || duration <= 0 || maxbatch < 1 || nsock < 1 || nsock > MAX_SOCKETS || port < 1 ||
      port > 65535 || ssid_base > 65535 || optind != argc)
    usage(argv[0]);
  if (maxbatch > MAX_BATCH) maxbatch = MAX_BATCH;
  if (tick_us < 0) tick_us = rate <= 2000 ? 0 : 20;
  prctl(PR_SET_TIMERSLACK, 1000UL);
  const int64_t tick_ns = (int64_t)(tick_us * 1000);

  struct hmac hmac = {0};
  if (key_file) {
    uint8_t key[256];
    size_t key_len = 0;
    if (read_key(key_file, key_id, key, &key_len) || hmac_open(&hmac, key, key_len)) return 2;
  }
  const struct layout *L = hmac.enabled ? &AUTH : &UNAUTH;
  const size_t pkt_len = L->len;

  // ---- sockets: one connected socket per source port ----
  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) usage(argv[0]);
    sslen = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) usage(argv[0]);
    sslen = sizeof *s6;
  }
  int fds[MAX_SOCKETS], my_ports[MAX_SOCKETS];
  struct pollfd pfds[MAX_SOCKETS];
  for (int s = 0; s < nsock; s++) {
    int fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int one = 1, big = (16 << 20) / nsock, ttl = 255;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one)) perror("SO_TIMESTAMPNS");
    // The reflector reports the TTL it received (RFC 8762 section 4.3.1): send with 255.
    if (fam == AF_INET) setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    else setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    if (tos) {
      if (fam == AF_INET) setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
      else setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    }
    if (connect(fd, (struct sockaddr *)&ss, sslen)) { perror("connect"); return 1; }
    struct sockaddr_storage me;
    socklen_t melen = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &melen);
    my_ports[s] = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&me)->sin_port : ((struct sockaddr_in6 *)&me)->sin6_port);
    fds[s] = fd;
    pfds[s] = (struct pollfd){.fd = fd, .events = POLLIN};
  }
  if (ssid_base < 0) {
    uint64_t t = clk_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 20);
    ssid_base = 1 + (int)((t ^ (t >> 16) ^ (t >> 32)) % (65535 - MAX_SOCKETS));
  }

  // ---- buffers: packet g goes out on socket g % nsock with sequence number g / nsock ----
  uint64_t total = (uint64_t)llround(rate * duration);
  if (total == 0) total = 1;
  uint64_t *tx_ntp = calloc(total, sizeof *tx_ntp);  // t1 as sent; 0 = never left
  uint8_t *got = calloc(total, 1);
  uint32_t *rtt_k = malloc(total * sizeof *rtt_k), *rtt_net = malloc(total * sizeof *rtt_net);
  uint32_t *rtt_u = malloc(total * sizeof *rtt_u), *dwell = malloc(total * sizeof *dwell);
  if (!tx_ntp || !got || !rtt_k || !rtt_net || !rtt_u || !dwell) { fprintf(stderr, "out of memory\n"); return 1; }

  static uint8_t txbuf[MAX_BATCH][AUTH_LEN];
  static struct iovec txiov[MAX_BATCH];
  static struct mmsghdr txmsg[MAX_BATCH];
  for (int i = 0; i < MAX_BATCH; i++) {
    txiov[i] = (struct iovec){.iov_base = txbuf[i], .iov_len = pkt_len};
    txmsg[i].msg_hdr = (struct msghdr){.msg_iov = &txiov[i], .msg_iovlen = 1};
  }
  static uint8_t rxbuf[RX_BATCH][RX_BUFSZ];
  static uint8_t rxctl[RX_BATCH][256];
  static struct iovec rxiov[RX_BATCH];
  static struct mmsghdr rxmsg[RX_BATCH];
  for (int i = 0; i < RX_BATCH; i++) {
    rxiov[i] = (struct iovec){.iov_base = rxbuf[i], .iov_len = RX_BUFSZ};
    rxmsg[i].msg_hdr = (struct msghdr){.msg_iov = &rxiov[i], .msg_iovlen = 1};
  }

  uint64_t issued = 0, sent = 0, received = 0, dups = 0, bad = 0, foreign = 0, send_errors = 0;
  uint64_t hmac_failures = 0, order_violations = 0, ssid_echoed = 0, nk = 0, nu = 0, nnet = 0, ptp_replies = 0;
  uint64_t sent_on[MAX_SOCKETS] = {0}, received_on[MAX_SOCKETS] = {0};
  int64_t max_refl_seq[MAX_SOCKETS];
  for (int s = 0; s < MAX_SOCKETS; s++) max_refl_seq[s] = -1;
  int ttl_min = 256, ttl_max = -1, last_errno = 0;

  long long rdrops0 = udp_drops_for_port(port), sndrops0 = softnet_drops(), gdrops0 = 0;
  for (int s = 0; s < nsock; s++) gdrops0 += udp_drops_for_port(my_ports[s]);
  unsigned long long rt0 = 0, rt1 = 0;
  int have_rcpu = refl_pid > 0 && proc_cpu_ticks(refl_pid, &rt0) == 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);

  const uint64_t t0 = clk_ns(CLOCK_MONOTONIC);
  uint64_t send_end = 0, deadline = 0;
  const double ns_per_pkt = 1e9 / rate;

  // Reads every reply waiting on socket s.
#define DRAIN_SOCKET(s)                                                                       \
  for (;;) {                                                                                  \
    for (int i_ = 0; i_ < RX_BATCH; i_++) {                                                   \
      rxmsg[i_].msg_hdr.msg_control = rxctl[i_];                                              \
      rxmsg[i_].msg_hdr.msg_controllen = sizeof rxctl[i_];                                    \
    }                                                                                         \
    int r_ = recvmmsg(fds[s], rxmsg, RX_BATCH, MSG_DONTWAIT, NULL);                           \
    if (r_ <= 0) break;                                                                       \
    uint64_t urx_ = clk_ns(CLOCK_REALTIME);                                                   \
    for (int i_ = 0; i_ < r_; i_++) {                                                         \
      const uint8_t *p_ = rxbuf[i_];                                                          \
      if (rxmsg[i_].msg_len != pkt_len) { bad++; continue; }                                  \
      if (hmac.enabled) {                                                                     \
        uint8_t mac_[16];                                                                     \
        hmac_sign(&hmac, p_, mac_);                                                           \
        if (memcmp(mac_, p_ + HMAC_COVERED, 16)) { hmac_failures++; continue; }               \
      }                                                                                       \
      uint64_t g_ = (uint64_t)get_be32(p_ + L->sender_seq) * (uint64_t)nsock + (uint64_t)(s); \
      uint64_t t1ntp_ = get_be64(p_ + L->t1);                                                 \
      if (g_ >= issued || tx_ntp[g_] == 0 || t1ntp_ != tx_ntp[g_]) { foreign++; continue; }   \
      if (got[g_]) { dups++; continue; }                                                      \
      got[g_] = 1;                                                                            \
      received++;                                                                             \
      received_on[s]++;                                                                       \
      if (get_be16(p_ + L->ssid) == (uint16_t)(ssid_base + (s))) ssid_echoed++;               \
      int64_t rseq_ = get_be32(p_);                                                           \
      if (rseq_ > max_refl_seq[s]) max_refl_seq[s] = rseq_;                                   \
      int ttl_ = p_[L->sender_ttl];                                                           \
      if (ttl_ < ttl_min) ttl_min = ttl_;                                                     \
      if (ttl_ > ttl_max) ttl_max = ttl_;                                                     \
      int ptp_ = (p_[L->err] & 0x40) != 0;                                                    \
      ptp_replies += (uint64_t)ptp_;                                                          \
      uint64_t t2_ = ptp_ ? ptp_to_ns(get_be64(p_ + L->t2)) : ntp_to_ns(get_be64(p_ + L->t2)); \
      uint64_t t3_ = ptp_ ? ptp_to_ns(get_be64(p_ + L->t3)) : ntp_to_ns(get_be64(p_ + L->t3)); \
      uint64_t t1_ = ntp_to_ns(t1ntp_), t4_ = 0;                                              \
      for (struct cmsghdr *c_ = CMSG_FIRSTHDR(&rxmsg[i_].msg_hdr); c_;                        \
           c_ = CMSG_NXTHDR(&rxmsg[i_].msg_hdr, c_)) {                                        \
        if (c_->cmsg_level == SOL_SOCKET && c_->cmsg_type == SO_TIMESTAMPNS) {                \
          struct timespec ts_;                                                                \
          memcpy(&ts_, CMSG_DATA(c_), sizeof ts_);                                            \
          t4_ = (uint64_t)ts_.tv_sec * 1000000000ull + (uint64_t)ts_.tv_nsec;                 \
        }                                                                                     \
      }                                                                                       \
      if (urx_ >= t1_) rtt_u[nu++] = clamp_u32(urx_ - t1_);                                   \
      if (!t4_) continue;                                                                     \
      /* one clock on loopback: t1 <= t2 <= t3 <= t4 must hold (1 ns of rounding allowed) */  \
      if (t2_ + 1 < t1_ || t3_ < t2_ || t4_ + 1 < t3_) order_violations++;                    \
      if (t4_ >= t1_) rtt_k[nk++] = clamp_u32(t4_ - t1_);                                     \
      if (t3_ >= t2_ && t4_ >= t1_ && t4_ - t1_ >= t3_ - t2_) {                               \
        dwell[nnet] = clamp_u32(t3_ - t2_);                                                   \
        rtt_net[nnet++] = clamp_u32((t4_ - t1_) - (t3_ - t2_));                               \
      }                                                                                       \
    }                                                                                         \
    if (r_ < RX_BATCH) break;                                                                 \
  }
#define DRAIN_ALL() \
  for (int sk_ = 0; sk_ < nsock; sk_++) { DRAIN_SOCKET(sk_) }

  const uint16_t err_estimate = 0x1601;  // S=0 (not synchronized), Z=0 (NTP), 2^22 * 2^-32 s ~ 1 ms
  for (;;) {
    uint64_t now = clk_ns(CLOCK_MONOTONIC);
    if (issued < total) {
      uint64_t due = (uint64_t)((double)(now - t0) / ns_per_pkt) + 1;
      if (due > total) due = total;
      while (issued < due) {
        uint64_t first = issued, end = due - issued > (uint64_t)maxbatch * (uint64_t)nsock
                                           ? issued + (uint64_t)maxbatch * (uint64_t)nsock : due;
        uint64_t t1 = ns_to_ntp(clk_ns(CLOCK_REALTIME));
        for (int s = 0; s < nsock; s++) {
          int n = 0;
          for (uint64_t g = first + (uint64_t)((s - (int)(first % (uint64_t)nsock) + nsock) % nsock); g < end; g += (uint64_t)nsock) {
            uint8_t *p = txbuf[n++];
            memset(p, 0, pkt_len);
            put_be32(p, (uint32_t)(g / (uint64_t)nsock));
            size_t ts_off = hmac.enabled ? 16 : 4;
            put_be64(p + ts_off, t1);
            put_be16(p + ts_off + 8, err_estimate);
            put_be16(p + ts_off + 10, (uint16_t)(ssid_base + s));
            if (hmac.enabled) hmac_sign(&hmac, p, p + HMAC_COVERED);
          }
          if (n == 0) continue;
          int r;
          do r = sendmmsg(fds[s], txmsg, (unsigned)n, 0);
          while (r < 0 && errno == EINTR);
          if (r < 0) { r = 0; last_errno = errno; }
          if (r < n) send_errors += (uint64_t)(n - r);
          // The first r left; the rest (EAGAIN, ENOBUFS) never did and cannot be answered.
          for (uint64_t g = first + (uint64_t)((s - (int)(first % (uint64_t)nsock) + nsock) % nsock), k = 0;
               g < end && k < (uint64_t)r; g += (uint64_t)nsock, k++)
            tx_ntp[g] = t1;
          sent += (uint64_t)r;
          sent_on[s] += (uint64_t)r;
        }
        issued = end;
        DRAIN_ALL();
      }
      if (issued == total) {
        send_end = clk_ns(CLOCK_MONOTONIC);
        deadline = send_end + (uint64_t)(drain_ms * 1e6);
        getrusage(RUSAGE_SELF, &ru1);
        if (have_rcpu && proc_cpu_ticks(refl_pid, &rt1)) have_rcpu = 0;
      }
    }
    DRAIN_ALL();
    now = clk_ns(CLOCK_MONOTONIC);
    if (issued == total && (received >= sent || now >= deadline)) break;
    int64_t wait_ns;
    if (issued < total) {
      wait_ns = (int64_t)(t0 + (uint64_t)((double)issued * ns_per_pkt)) - (int64_t)now;
      if (tick_ns > 0) {
        if (wait_ns < tick_ns) wait_ns = tick_ns;
        struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        nanosleep(&ts, NULL);
        continue;
      }
    } else {
      wait_ns = (int64_t)deadline - (int64_t)now;
    }
    if (wait_ns > 0) {
      struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
      ppoll(pfds, (nfds_t)nsock, &ts, NULL);
    }
  }

  long long gdrops = -gdrops0;
  for (int s = 0; s < nsock; s++) gdrops += udp_drops_for_port(my_ports[s]);
  long long rdrops = udp_drops_for_port(port) - rdrops0, sndrops = softnet_drops() - sndrops0;
  long refl_rss = refl_pid > 0 ? proc_rss_kb(refl_pid) : -1;
  double send_secs = (double)(send_end - t0) / 1e9;
  double achieved = send_secs > 0 ? (double)sent / (send_secs + 1.0 / rate) : 0;
  uint64_t lost = sent - received;
  double gen_cpu = 100.0 * (timeval_seconds(ru1.ru_utime) - timeval_seconds(ru0.ru_utime) +
                            timeval_seconds(ru1.ru_stime) - timeval_seconds(ru0.ru_stime)) / send_secs;
  double refl_cpu = have_rcpu ? 100.0 * (double)(rt1 - rt0) / (double)sysconf(_SC_CLK_TCK) / send_secs : NAN;

  printf("{\"target\":\"%s:%d\",\"mode\":\"%s\",\"sockets\":%d,\"ssid_first\":%d", addr, port,
         hmac.enabled ? "authenticated" : "unauthenticated", nsock, ssid_base);
  JF("tick_us", tick_us, 0);
  JF("target_pps", rate, 0);
  JF("duration_s", send_secs, 3);
  printf(",\"pkt_bytes\":%zu,\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64, pkt_len, sent, received, lost);
  JF("loss_pct", sent ? 100.0 * (double)lost / (double)sent : 0, 4);
  printf(",\"dups\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"hmac_failures\":%" PRIu64
         ",\"send_errors\":%" PRIu64 ",\"order_violations\":%" PRIu64 ",\"ptp_replies\":%" PRIu64 ",\"ssid_echoed\":%" PRIu64,
         dups, bad, foreign, hmac_failures, send_errors, order_violations, ptp_replies, ssid_echoed);
  if (send_errors) printf(",\"last_send_error\":\"%s\"", strerror(last_errno));
  if (ttl_max >= 0) printf(",\"sender_ttl_min\":%d,\"sender_ttl_max\":%d", ttl_min, ttl_max);
  else printf(",\"sender_ttl_min\":null,\"sender_ttl_max\":null");
  if (stateful) {
    // The reflector numbers what it received per session: its highest number + 1 reached it.
    uint64_t reached = 0;
    for (int s = 0; s < nsock; s++) {
      uint64_t r = (uint64_t)(max_refl_seq[s] + 1);
      reached += r > received_on[s] ? r : received_on[s];
    }
    printf(",\"forward_lost\":%" PRIu64 ",\"backward_lost\":%" PRIu64, sent - reached, reached - received);
  }
  JF("achieved_pps", achieved, 0);
  print_rtt("rtt_us", rtt_k, nk);
  print_rtt("rtt_net_us", rtt_net, nnet);
  print_rtt("dwell_us", dwell, nnet);
  print_rtt("rtt_user_us", rtt_u, nu);
  JF("gen_cpu_pct", gen_cpu, 1);
  JF("refl_cpu_pct", refl_cpu, 1);
  printf(",\"refl_rss_kb\":%ld,\"refl_sock_drops\":%lld,\"gen_sock_drops\":%lld,\"softnet_drops\":%lld}\n",
         refl_rss, rdrops, gdrops, sndrops);
  return 0;
}
