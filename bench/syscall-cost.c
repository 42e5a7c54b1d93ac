/* Nanoseconds per call of getppid, mprotect (RW<->R flips, no violation) and mmap+munmap
 * (anonymous RW), median of 7 rounds of N calls. Used by bench/syscall-cost.sh. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200000;
	double r[3][7];
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int k = 0; k < 7; k++) {
		double s = now();
		for (int i = 0; i < n; i++)
			syscall(SYS_getppid);
		r[0][k] = (now() - s) / n;
		s = now();
		for (int i = 0; i < n; i++)
			mprotect(p, 4096, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE);
		r[1][k] = (now() - s) / n;
		s = now();
		for (int i = 0; i < n / 4; i++)
			munmap(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 4096);
		r[2][k] = (now() - s) / (n / 4);
	}
	for (int j = 0; j < 3; j++)
		qsort(r[j], 7, sizeof(double), cmp);
	printf("%.0f %.0f %.0f\n", r[0][3], r[1][3], r[2][3]);
	return 0;
}
