// /proc readings for stampblast: the reflector's CPU time and RSS, kernel UDP drops by port and
// softnet backlog drops (the same readings as shared/tools/probeblast.c, so numbers compare).
#ifndef STAMPBLAST_PROC_H
#define STAMPBLAST_PROC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static double timeval_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
static int proc_cpu_ticks(int pid, unsigned long long *ticks) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');  // the command name may hold spaces
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  int field = 2;
  char *save = NULL;
  for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    field++;
    if (field == 14) ut = strtoull(tok, NULL, 10);
    if (field == 15) {
      st = strtoull(tok, NULL, 10);
      break;
    }
  }
  *ticks = ut + st;
  return 0;
}

static long proc_rss_kb(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

// Sum of the `drops` column of /proc/net/udp{,6} for sockets bound to `port`.
static long long udp_drops_for_port(int port) {
  const char *files[] = {"/proc/net/udp", "/proc/net/udp6"};
  long long total = 0;
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "r");
    if (!f) continue;
    char line[512];
    if (!fgets(line, sizeof line, f)) {
      fclose(f);
      continue;
    }
    while (fgets(line, sizeof line, f)) {
      char local[128];
      if (sscanf(line, " %*d: %127s", local) != 1) continue;
      char *colon = strrchr(local, ':');
      if (!colon || (int)strtol(colon + 1, NULL, 16) != port) continue;
      char *end = line + strlen(line);  // drops is the last column
      while (end > line && (end[-1] == '\n' || end[-1] == ' ')) end--;
      char *s = end;
      while (s > line && s[-1] != ' ') s--;
      total += strtoll(s, NULL, 10);
    }
    fclose(f);
  }
  return total;
}

static long long softnet_drops(void) {
  FILE *f = fopen("/proc/net/softnet_stat", "r");
  if (!f) return -1;
  long long total = 0;
  unsigned a, b;
  char line[512];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%x %x", &a, &b) == 2) total += b;
  fclose(f);
  return total;
}

#endif
