/* A multi-threaded program: pthread_create goes through clone (glibc 2.34+
 * tries clone3 first and falls back to clone on ENOSYS). Prints "threads ok"
 * and the errno clone3 answered. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void *work(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < 1000; i++) {
		pthread_mutex_lock(&lock);
		total += n;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(n * 2);
}

int main(void)
{
	pthread_t threads[THREADS];
	for (long i = 0; i < THREADS; i++) {
		int err = pthread_create(&threads[i], NULL, work, (void *)(i + 1));
		if (err) {
			fprintf(stderr, "pthread_create: %d\n", err);
			return 1;
		}
	}
	for (long i = 0; i < THREADS; i++) {
		void *ret;
		if (pthread_join(threads[i], &ret) || (long)ret != (i + 1) * 2) {
			fprintf(stderr, "pthread_join %ld\n", i);
			return 2;
		}
	}
	if (total != 1000L * THREADS * (THREADS + 1) / 2) {
		fprintf(stderr, "bad total %ld\n", total);
		return 3;
	}
	long r = syscall(SYS_clone3, NULL, 0);
	printf("threads ok, clone3 errno %d\n", r == -1 ? errno : 0);
	return 0;
}
