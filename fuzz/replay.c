/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Replays fuzz inputs through a target without libFuzzer, so that any compiler (gcc too) runs
 * the checked-in corpora as ordinary tests. usage: replay FILE_OR_DIR...
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    static uint8_t buf[1u << 20];
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL) {
        perror(path);
        return 1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    (void)LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    int i;
    int files = 0;
    int failures = 0;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d != NULL && (e = readdir(d)) != NULL) {
                char path[4096];
                if (e->d_name[0] == '.') {
                    continue;
                }
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                failures += run_file(path);
                files++;
            }
            if (d != NULL) {
                closedir(d);
            }
        } else {
            failures += run_file(argv[i]);
            files++;
        }
    }
    printf("replayed %d inputs\n", files);
    return failures != 0 || files == 0;
}
