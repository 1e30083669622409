/* cli/cmd_attack.c - `blindlink attack`: run a re-identification attack
 * (lib/attack, docs/attacks.md) against an encoded file with a known
 * plaintext population, and report how many records it re-identified. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blindlink/attack.h>
#include <blindlink/csv.h>
#include <blindlink/io.h>

#include "cli.h"

#define CMD "attack"

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: blindlink attack --method graph|frequency|pattern --plain KNOWN.csv\n"
        "                        --schema SCHEMA.json [--ids COLUMN [--truth ids]] [--json] "
        "ENCODED.clk\n"
        "       blindlink attack --encode-fields OUT.clk --schema SCHEMA.json [--ids COLUMN]\n"
        "                        [--harden PROFILE] [--field-bits N] [--secret-file F] DATA.csv\n"
        "\n"
        "Attack your own encodings the way an adversary would (docs/attacks.md). The\n"
        "attacker knows the schema and the encoding options (normalisation and\n"
        "hardening, read from ENCODED.clk's metadata unless given) and a plaintext\n"
        "population KNOWN.csv that overlaps the encoded one, but never the secret: it\n"
        "encodes KNOWN.csv with a key of its own and works from structure only.\n"
        "  --method M            graph: similarity-graph matching (Vidanage et al. 2020);\n"
        "                        frequency: frequent filters aligned with frequent values;\n"
        "                        pattern: co-occurring bit positions mined to q-grams\n"
        "                        (Christen et al.), then re-identification\n"
        "  --plain KNOWN.csv     plaintext with a header naming the schema's fields\n"
        "  --schema SCHEMA.json  the linkage schema the encodings were made with\n"
        "  --ids COLUMN          KNOWN.csv's record id column\n"
        "  --truth ids           score: a guess is correct when the encoded record's id\n"
        "                        (encode --ids) equals the guessed plaintext record's id\n"
        "  --normalize PROFILE   override the file's normalisation (none, basic, names, strict)\n"
        "  --harden PROFILE      override the file's hardening profile\n"
        "  --legacy-strip        strip cells of KNOWN.csv as encode --legacy-strip\n"
        "  --no-validate         as encode --no-validate\n"
        "  -j, --threads N       worker threads (default 2)\n"
        "  --seed N              seed of the attacker's own key (default 1)\n"
        "  -o, --output FILE     write the guesses as CSV (encoded_index,encoded_id,\n"
        "                        plain_index,score; plain_index counts the plaintext\n"
        "                        records the schema accepted, from 0)\n"
        "  --json                print the result as one JSON object\n"
        "  --encode-fields OUT   (tests) write DATA.csv as a field-level encoding of\n"
        "                        --field-bits bits per hashed feature (default 512;\n"
        "                        `encode --layout fields` is the real one, hardened per\n"
        "                        field); the secret comes from --secret-file or\n"
        "                        BLINDLINK_SECRET\n"
        "  -q, --quiet, -v, --verbose  accepted as by every command (nothing to add here)\n"
        "  -V, --version         print the version;  -h, --help  this help\n"
        "Output: method, encoded, guesses, correct, reidentified (correct / encoded),\n"
        "precision, seconds. Exit status: 0 ok, 1 failure, 2 usage or input error.\n");
}

enum { OPT_METHOD = 256, OPT_PLAIN, OPT_SCHEMA, OPT_IDS, OPT_TRUTH, OPT_NORMALIZE, OPT_HARDEN, OPT_LEGACY,
       OPT_NOVAL, OPT_THREADS, OPT_SEED, OPT_OUTPUT, OPT_JSON, OPT_ENCODE_FIELDS, OPT_FIELD_BITS, OPT_SECRET };

typedef struct args {
    bl_attack_opts o;
    const char *plain, *schema, *output, *encode_fields, *secret_file;
    unsigned long field_bits;
    int json;
} args;

static int parse_opt(int c, args *a)
{
    char *end;
    switch (c) {
    case OPT_METHOD: {
        int m = bl_attack_method_parse(optarg);
        if (m < 0)
            return cli_usage_error(CMD, "--method must be graph, frequency or pattern, not '%s'", optarg);
        a->o.method = (bl_attack_method)m;
        return 0;
    }
    case OPT_PLAIN: a->plain = optarg; return 0;
    case OPT_SCHEMA: a->schema = optarg; return 0;
    case OPT_IDS: a->o.ids_column = optarg; return 0;
    case OPT_TRUTH:
        if (strcmp(optarg, "ids"))
            return cli_usage_error(CMD, "--truth must be 'ids', not '%s'", optarg);
        a->o.truth_ids = 1;
        return 0;
    case OPT_NORMALIZE: {
        int p = bl_normalize_profile_parse(optarg);
        if (p < 0)
            return cli_usage_error(CMD, "unknown --normalize profile '%s'", optarg);
        a->o.normalize = (bl_normalize_profile)p;
        a->o.normalize_set = 1;
        return 0;
    }
    case OPT_HARDEN: a->o.harden = optarg; return 0;
    case OPT_LEGACY: a->o.legacy_strip = 1; return 0;
    case OPT_NOVAL: a->o.no_validate = 1; return 0;
    case OPT_THREADS:
        if ((a->o.threads = cli_parse_threads(optarg)) < 0)
            return cli_usage_error(CMD, "--threads must be 1..1024 or 'auto', not '%s'", optarg);
        return 0;
    case OPT_SEED:
        a->o.seed = strtoull(optarg, &end, 10);
        return *optarg && !*end ? 0 : cli_usage_error(CMD, "--seed must be a number, not '%s'", optarg);
    case OPT_OUTPUT: a->output = optarg; return 0;
    case OPT_JSON: a->json = 1; return 0;
    case OPT_ENCODE_FIELDS: a->encode_fields = optarg; return 0;
    case OPT_SECRET: a->secret_file = optarg; return 0;
    case OPT_FIELD_BITS:
        a->field_bits = strtoul(optarg, &end, 10);
        if (!*optarg || *end || a->field_bits == 0 || a->field_bits % 512 || a->field_bits > 65536)
            return cli_usage_error(CMD, "--field-bits must be a multiple of 512 (512..65536), not '%s'", optarg);
        return 0;
    default: return -1;
    }
}

static int write_guesses(const char *path, const bl_clkset *enc, const char *plain_csv, const bl_attack_guess *g,
                         size_t n)
{
    (void)plain_csv;
    bl_ofile *of = NULL;
    bl_error err = {0};
    if (bl_ofile_open(path, &of, &err) != BL_OK)
        return cli_fail(CMD, &err);
    FILE *fp = bl_ofile_stream(of);
    fprintf(fp, "encoded_index,encoded_id,plain_index,score\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "%u,", g[i].enc);
        const char *id = enc->ids ? enc->ids[g[i].enc] : "";
        bl_csv_write_field(fp, id, strlen(id));
        fprintf(fp, ",%u,%.6f\n", g[i].plain, g[i].score);
    }
    if (bl_ofile_commit(of, &err) != BL_OK)
        return cli_fail(CMD, &err);
    return CLI_EXIT_OK;
}

static void print_result(const bl_attack_result *r, bl_attack_method m, int json)
{
    if (json) {
        char *s = NULL;
        bl_error err = {0};
        if (bl_attack_result_json(r, m, &s, &err) == BL_OK)
            printf("%s\n", s);
        free(s);
        return;
    }
    printf("method        %s\nlayout        %s (%zu segment%s)\nharden        %s\n", bl_attack_method_name(m),
           r->layout, r->segments, r->segments == 1 ? "" : "s", r->harden[0] ? r->harden : "none");
    printf("encoded       %zu\nplain         %zu (%zu rows skipped)\nguesses       %zu\n", r->encoded, r->plain,
           r->skipped, r->guesses);
    if (r->scored)
        printf("correct       %zu\nreidentified  %.4f\nprecision     %.4f\n", r->correct,
               r->reidentified, r->precision);
    else
        printf("correct       n/a (no --truth: nothing to score the guesses against)\n"
               "reidentified  n/a\nprecision     n/a\n");
    printf("seconds       %.2f\n", r->seconds);
}

static int encode_fields(const args *a, const bl_schema *sc, const char *data)
{
    /* the data the user named: exit 2, as encode says it (a write failure
     * of OUT stays a runtime failure) */
    if (access(data, R_OK) != 0)
        return cli_usage_error(CMD, "cannot read '%s': %s", data, strerror(errno));
    bl_secret secret = {0};
    bl_error err = {0};
    bl_status st = bl_secret_load(a->secret_file, "BLINDLINK_SECRET", &secret, &err);
    if (st == BL_EINVAL && !a->secret_file)
        st = bl_error_set(&err, BL_EINVAL, "no secret: use --secret-file FILE or set BLINDLINK_SECRET");
    if (st != BL_OK)
        return cli_fail(CMD, &err);
    bl_encode_opts eo = {.harden = a->o.harden, .legacy_strip = a->o.legacy_strip, .no_validate = a->o.no_validate,
                         .normalize = a->o.normalize};
    st = bl_attack_encode_fields(sc, data, &eo, secret.bytes, secret.len, (uint32_t)(a->field_bits ? a->field_bits : 512),
                                 a->o.ids_column, a->encode_fields, &err);
    bl_secret_free(&secret);
    return st == BL_OK ? CLI_EXIT_OK : cli_fail(CMD, &err);
}

static int run(const args *a, const bl_schema *sc, const char *encoded)
{
    bl_error err = {0};
    bl_clkset *enc = NULL;
    if (bl_clkset_read(encoded, BL_CLK_AUTO, 0, &enc, &err) != BL_OK)
        return cli_fail_input(CMD, &err);
    bl_attack_result r;
    bl_attack_guess *g = NULL;
    size_t ng = 0;
    bl_status st = bl_attack_run(sc, a->plain, enc, &a->o, &r, a->output ? &g : NULL, &ng, &err);
    int rc = CLI_EXIT_OK;
    if (st != BL_OK) {
        bl_error_prefix(&err, "%s: ", encoded);
        rc = cli_fail(CMD, &err);
    } else {
        if (a->output)
            rc = write_guesses(a->output, enc, a->plain, g, ng);
        if (rc == CLI_EXIT_OK)
            print_result(&r, a->o.method, a->json);
    }
    free(g);
    bl_clkset_free(enc);
    return rc;
}

int cmd_attack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"method", required_argument, NULL, OPT_METHOD},   {"plain", required_argument, NULL, OPT_PLAIN},
        {"schema", required_argument, NULL, OPT_SCHEMA},   {"ids", required_argument, NULL, OPT_IDS},
        {"truth", required_argument, NULL, OPT_TRUTH},     {"normalize", required_argument, NULL, OPT_NORMALIZE},
        {"harden", required_argument, NULL, OPT_HARDEN},   {"legacy-strip", no_argument, NULL, OPT_LEGACY},
        {"no-validate", no_argument, NULL, OPT_NOVAL},     {"threads", required_argument, NULL, OPT_THREADS},
        {"seed", required_argument, NULL, OPT_SEED},       {"output", required_argument, NULL, OPT_OUTPUT},
        {"json", no_argument, NULL, OPT_JSON},             {"encode-fields", required_argument, NULL, OPT_ENCODE_FIELDS},
        {"field-bits", required_argument, NULL, OPT_FIELD_BITS}, {"secret-file", required_argument, NULL, OPT_SECRET},
        CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION,
        {"help", no_argument, NULL, 'h'},                  {NULL, 0, NULL, 0},
    };
    cli_common co = {0};
    args a = {.o = {.seed = 1}};
    cli_getopt_begin(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, ":o:j:qvVh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        /* -o and -j are the short forms of --output and --threads; the rest
         * of the common options go through the shared parser */
        c = c == 'o' ? OPT_OUTPUT : c == 'j' ? OPT_THREADS : c;
        int rc = c >= OPT_METHOD ? parse_opt(c, &a) : cli_common_option(CMD, c, optarg, &co);
        if (rc == CLI_OPT_EXIT)
            return CLI_EXIT_OK;
        if (rc == CLI_OPT_UNHANDLED)
            rc = cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
        if (rc)
            return rc;
    }
    if (argc - optind != 1)
        return cli_usage_error(CMD, "expected one input file (got %d)", argc - optind);
    if (!a.schema)
        return cli_usage_error(CMD, "--schema SCHEMA.json is required");
    if (!a.encode_fields && (!a.o.method || !a.plain))
        return cli_usage_error(CMD, "--method and --plain are required");
    if (a.o.truth_ids && !a.o.ids_column)
        return cli_usage_error(CMD, "--truth ids needs --ids COLUMN (the id column of %s)", a.plain);
    if (a.plain && access(a.plain, R_OK) != 0)
        return cli_usage_error(CMD, "cannot read '%s': %s", a.plain, strerror(errno));
    /* the output (a long attack's last step) is checked before the attack */
    const cli_path out = {"-o", a.output};
    const char *ins[] = {argv[optind], a.plain, a.schema, a.secret_file};
    int prc = cli_check_inputs(CMD, ins, 4, 0);
    if (prc == CLI_EXIT_OK)
        prc = cli_check_outputs(CMD, &out, 1, ins, 4);
    if (prc != CLI_EXIT_OK)
        return prc;
    bl_error err = {0};
    bl_schema *sc = NULL;
    if (bl_schema_load(a.schema, &sc, &err) != BL_OK) {
        if (err.status == BL_EIO)
            err.status = BL_EINVAL;
        return cli_fail(CMD, &err);
    }
    int rc = a.encode_fields ? encode_fields(&a, sc, argv[optind]) : run(&a, sc, argv[optind]);
    bl_schema_free(sc);
    return rc;
}
