/*
 * Stand-in BLHA one-loop provider for the activeamp test suite (compiled at test time with
 * `cc -shared -fPIC -O2`). It exports the BLHA2 entry points the way NJet does and answers with the
 * mock oracle's formula (oracles/mock.py, MockOracle.amplitude), so the ctypes wrapper can be checked
 * exactly, without NJet.
 *
 *   void OLP_Start(const char* contract, int* status)            status 1 = OK, 0 = error
 *   void OLP_SetParameter(const char* name, const double* re, const double* im, int* status)
 *   void OLP_EvalSubProcess2(const int* id, const double* pp, const double* mu, double* rval, double* acc)
 *   void OLP_Info(char name[15], char version[15], char message[255])
 *
 * Contract handling: OLP_Start takes a file name (or the contract text itself when the argument contains
 * a newline). Every subprocess line must carry its answer "| 1 <id>" (a signed contract); an unsigned
 * order file gives status 0, as with NJet. Options read: AmplitudeType (loopsq, loop, loopinduced, tree),
 * AlphasPower, AlphaPower, NJetReturnAccuracy, IRregularisation (only CDR), CorrectionType (only QCD),
 * CouplingPower QCD/QED n, InterfaceVersion; other options are accepted when answered "| OK".
 *
 * Results in rval, by amplitude type (v = the value below):
 *   loopsq:      rval[0..3] = 0 (poles), rval[4] = v; with NJetReturnAccuracy > 0, rval[5..9] = acc
 *   loop:        [eps^-2, eps^-1, eps^0, Born] = [0, 0, v, v/2]
 *   loopinduced: rval[STANDIN_LOOPINDUCED_INDEX] = v
 *   tree:        rval[0] = v
 * v = MockOracle formula * (alphas/0.118)^AlphasPower * (alpha/(1/137.035999084))^AlphaPower, so it equals
 * the mock value when the couplings keep their defaults. acc = 1e-2 when the first outgoing particle has
 * pz/E > 0.5 (a mock "unstable point"), else 1e-12.
 *
 * Compile-time variants:
 *   -DSTANDIN_ANSWER_IN_PLACE   OpenLoops-like: an order file is answered in place (ids from 1), file rewritten
 *   -DSTANDIN_GOSAM             GoSam-like symbols olp_start_(name, status, stage, rndseed), olp_setparameter_,
 *                               olp_evalsubprocess2_, olp_info_; loop-induced result in rval[2]
 *   -DSTANDIN_OMIT_SETPARAMETER no OLP_SetParameter symbol (to test the missing-symbol error)
 *
 * Test hooks: standin_start_calls(), standin_last_mu(), standin_last_stage(), standin_nf().
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STANDIN_GOSAM
#define SYM_START olp_start_
#define SYM_SETPARAMETER olp_setparameter_
#define SYM_EVAL olp_evalsubprocess2_
#define SYM_INFO olp_info_
#ifndef STANDIN_LOOPINDUCED_INDEX
#define STANDIN_LOOPINDUCED_INDEX 2
#endif
#else
#define SYM_START OLP_Start
#define SYM_SETPARAMETER OLP_SetParameter
#define SYM_EVAL OLP_EvalSubProcess2
#define SYM_INFO OLP_Info
#ifndef STANDIN_LOOPINDUCED_INDEX
#define STANDIN_LOOPINDUCED_INDEX 0
#endif
#endif

#define MAX_SUB 16
#define MAX_LEGS 12
#define MAX_TEXT 65536
#define ALPHAS_REF 0.118
#define ALPHA_REF (1.0 / 137.035999084)

enum { AMP_NONE = 0, AMP_LOOPSQ, AMP_LOOP, AMP_LOOPINDUCED, AMP_TREE };

typedef struct {
    int id;
    int n;
    int pdg[MAX_LEGS];
} subprocess;

static subprocess subs[MAX_SUB];
static int n_subs = 0;
static int amp_type = AMP_NONE;
static int alphas_power = 0;
static int alpha_power = 0;
static int return_accuracy = 0;
static int start_calls = 0;
static int last_stage = -999;
static int nf = 5;
static double alphas = ALPHAS_REF;
static double alpha = ALPHA_REF;
static double last_mu = -1.0;

int standin_start_calls(void) { return start_calls; }
double standin_last_mu(void) { return last_mu; }
int standin_last_stage(void) { return last_stage; }
int standin_nf(void) { return nf; }

static void trim(char* s) {
    char* p = s;
    size_t n;
    while (*p && isspace((unsigned char)*p)) p++;
    if (p != s) memmove(s, p, strlen(p) + 1);
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

static void lower(char* s) {
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static int read_text(const char* arg, char* buf, size_t cap) {
    FILE* f;
    size_t n;
    if (strchr(arg, '\n') != NULL) {
        if (strlen(arg) >= cap) return 0;
        strcpy(buf, arg);
        return 1;
    }
    f = fopen(arg, "r");
    if (f == NULL) {
        fprintf(stderr, "stand-in OLP_Start: cannot open %s\n", arg);
        return 0;
    }
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 1;
}

/* Parses "a b -> c d e" into pdg codes; returns the number of legs or -1. */
static int parse_process(const char* request, int* pdg) {
    char copy[1024];
    char* tok;
    int n = 0, seen_arrow = 0;
    strncpy(copy, request, sizeof copy - 1);
    copy[sizeof copy - 1] = '\0';
    for (tok = strtok(copy, " \t"); tok != NULL; tok = strtok(NULL, " \t")) {
        if (strcmp(tok, "->") == 0) {
            if (n != 2) return -1;
            seen_arrow = 1;
            continue;
        }
        if (n >= MAX_LEGS) return -1;
        pdg[n++] = atoi(tok);
    }
    return seen_arrow && n > 2 ? n : -1;
}

static int handle_option(char* request, int answered_ok) {
    char key[256] = {0}, value[256] = {0}, value2[256] = {0};
    int k = sscanf(request, "%255s %255s %255s", key, value, value2);
    if (k < 1) return 1;
    lower(key);
    lower(value);
    if (strcmp(key, "amplitudetype") == 0) {
        if (strcmp(value, "loopsq") == 0) amp_type = AMP_LOOPSQ;
        else if (strcmp(value, "loop") == 0) amp_type = AMP_LOOP;
        else if (strcmp(value, "loopinduced") == 0) amp_type = AMP_LOOPINDUCED;
        else if (strcmp(value, "tree") == 0) amp_type = AMP_TREE;
        else {
            fprintf(stderr, "stand-in OLP_Start: unsupported AmplitudeType %s\n", value);
            return 0;
        }
    } else if (strcmp(key, "alphaspower") == 0) {
        alphas_power = atoi(value);
    } else if (strcmp(key, "alphapower") == 0) {
        alpha_power = atoi(value);
    } else if (strcmp(key, "couplingpower") == 0) {
        lower(value2);
        if (strcmp(value, "qcd") == 0) alphas_power = atoi(value2);
        else if (strcmp(value, "qed") == 0) alpha_power = atoi(value2);
        else return 0;
    } else if (strcmp(key, "njetreturnaccuracy") == 0) {
        return_accuracy = atoi(value);
    } else if (strcmp(key, "irregularisation") == 0 || strcmp(key, "irregularization") == 0) {
        if (strcmp(value, "cdr") != 0) {
            fprintf(stderr, "stand-in OLP_Start: unsupported IRregularisation %s\n", value);
            return 0;
        }
    } else if (strcmp(key, "correctiontype") == 0) {
        if (strcmp(value, "qcd") != 0) return 0;
    } else if (strcmp(key, "interfaceversion") == 0) {
        /* accepted */
    } else if (!answered_ok) {
        fprintf(stderr, "stand-in OLP_Start: unknown option %s\n", key);
        return 0;
    }
    return 1;
}

#ifdef STANDIN_GOSAM
void SYM_START(const char* contract, int* status, const int* stage, const int* rndseed) {
    last_stage = *stage;
    (void)*rndseed;
#else
void SYM_START(const char* contract, int* status) {
#endif
    static char text[MAX_TEXT];
    static char answered[MAX_TEXT * 2];
    char* line;
    char* save = NULL;
    int ok = 1, next_id = 1, wrote_answers = 0;
    start_calls++;
    *status = 0;
    n_subs = 0;
    amp_type = AMP_NONE;
    return_accuracy = 0;
    answered[0] = '\0';
    if (!read_text(contract, text, sizeof text)) return;
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char request[1024], answer[1024];
        char* bar = strchr(line, '|');
        char* hash;
        size_t used = strlen(answered);
        strncpy(request, line, sizeof request - 1);
        request[sizeof request - 1] = '\0';
        answer[0] = '\0';
        if (bar != NULL) {
            request[bar - line < (long)sizeof request ? bar - line : (long)sizeof request - 1] = '\0';
            strncpy(answer, bar + 1, sizeof answer - 1);
            answer[sizeof answer - 1] = '\0';
            hash = strchr(answer, '#');
            if (hash) *hash = '\0';
            trim(answer);
        }
        hash = strchr(request, '#');
        if (hash) *hash = '\0';
        trim(request);
        if (request[0] == '\0') {
            snprintf(answered + used, sizeof answered - used, "%s\n", line);
            continue;
        }
        if (strstr(request, "->") != NULL) {
            subprocess* sub;
            int count = 0, id = -1;
            if (n_subs >= MAX_SUB) return;
            sub = &subs[n_subs];
            sub->n = parse_process(request, sub->pdg);
            if (sub->n < 0) {
                fprintf(stderr, "stand-in OLP_Start: bad subprocess line '%s'\n", request);
                ok = 0;
                continue;
            }
            if (bar != NULL) {
                if (sscanf(answer, "%d %d", &count, &id) != 2 || count < 1) {
                    fprintf(stderr, "stand-in OLP_Start: subprocess '%s' answered '%s'\n", request, answer);
                    ok = 0;
                    continue;
                }
            } else {
#ifdef STANDIN_ANSWER_IN_PLACE
                id = next_id++;
                snprintf(answered + used, sizeof answered - used, "%s | 1 %d\n", request, id);
                wrote_answers = 1;
#else
                fprintf(stderr, "stand-in OLP_Start: unsigned subprocess line '%s' (not a contract)\n", request);
                ok = 0;
                continue;
#endif
            }
            sub->id = id;
            n_subs++;
            if (bar != NULL) snprintf(answered + used, sizeof answered - used, "%s\n", line);
        } else {
            int answered_ok = bar != NULL && (answer[0] == 'O' || answer[0] == 'o');
            if (bar != NULL && !answered_ok) {
                fprintf(stderr, "stand-in OLP_Start: option '%s' answered '%s'\n", request, answer);
                ok = 0;
                continue;
            }
            if (!handle_option(request, answered_ok)) {
                ok = 0;
#ifdef STANDIN_ANSWER_IN_PLACE
                snprintf(answered + used, sizeof answered - used, "%s | Error: not supported\n", request);
                wrote_answers = 1;
#endif
                continue;
            }
#ifdef STANDIN_ANSWER_IN_PLACE
            if (bar == NULL) {
                snprintf(answered + used, sizeof answered - used, "%s | OK\n", request);
                wrote_answers = 1;
                continue;
            }
#endif
            snprintf(answered + used, sizeof answered - used, "%s\n", line);
        }
    }
    (void)next_id;
    if (wrote_answers && strchr(contract, '\n') == NULL) {
        FILE* f = fopen(contract, "w");
        if (f == NULL) return;
        fputs(answered, f);
        fclose(f);
    }
    if (amp_type == AMP_NONE) {
        fprintf(stderr, "stand-in OLP_Start: no AmplitudeType\n");
        ok = 0;
    }
    *status = ok && n_subs > 0 ? 1 : 0;
}

#ifndef STANDIN_OMIT_SETPARAMETER
void SYM_SETPARAMETER(const char* name, const double* re, const double* im, int* status) {
    (void)im;
    *status = 1;
    if (strcmp(name, "alphas") == 0) alphas = *re;
    else if (strcmp(name, "alpha") == 0) alpha = *re;
    else if (strcmp(name, "qcd(nf)") == 0) nf = (int)*re;
    else if (strncmp(name, "mass(", 5) == 0 || strncmp(name, "width(", 6) == 0) { /* accepted, unused */ }
    else if (strncmp(name, "ignored_", 8) == 0) *status = 2;
    else *status = 0;
}
#endif

static int kind_of(int pdg) {
    if (pdg == 21) return 0;                 /* gluon */
    if (pdg == 22) return 1;                 /* photon */
    if (pdg >= 1 && pdg <= 6) return 2;      /* quark */
    if (pdg <= -1 && pdg >= -6) return 3;    /* antiquark */
    return 4;
}

static double pair_weight(int a, int b) {
    if (a == 0 && b == 0) return 1.0;
    if ((a == 0 && b == 1) || (a == 1 && b == 0)) return 0.5;
    if (a == 1 && b == 1) return 0.25;
    if ((a == 2 && b == 3) || (a == 3 && b == 2)) return 1.0;
    return 0.5;
}

/* MockOracle.amplitude for one point: pp holds (E, px, py, pz, m) per leg, incoming first. */
static double mock_value(const subprocess* sub, const double* pp) {
    double k[MAX_LEGS][4];
    double sij[MAX_LEGS][MAX_LEGS];
    double s, core = 0.0, wsum = 0.0, shape = 1.0;
    int i, j, a, n = sub->n, kinds[MAX_LEGS];
    if (n < 3 || n > MAX_LEGS) return NAN;
    for (i = 0; i < n; i++) {
        double sign = i < 2 ? -1.0 : 1.0; /* all outgoing */
        for (a = 0; a < 4; a++) k[i][a] = sign * pp[5 * i + a];
        kinds[i] = kind_of(sub->pdg[i]);
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            sij[i][j] = 2.0 * (k[i][0] * k[j][0] - k[i][1] * k[j][1] - k[i][2] * k[j][2] - k[i][3] * k[j][3]);
    s = sij[0][1];
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++) {
            double w = pair_weight(kinds[i], kinds[j]);
            core += w * (s / fabs(sij[i][j]));
            wsum += w;
        }
    core /= wsum;
    for (i = 2; i < n; i++)
        if (kinds[i] == 1) {
            double d = (sij[0][i] - sij[1][i]) / s;
            shape += 0.5 * d * d;
        }
    return pow(s, 4 - n) * core * shape;
}

void SYM_EVAL(const int* id, const double* pp, const double* mu, double* rval, double* acc) {
    const subprocess* sub = NULL;
    double v, a;
    int i;
    last_mu = *mu;
    for (i = 0; i < n_subs; i++)
        if (subs[i].id == *id) sub = &subs[i];
    if (sub == NULL) {
        rval[0] = NAN;
        *acc = 1.0;
        return;
    }
    v = mock_value(sub, pp);
    v *= pow(alphas / ALPHAS_REF, alphas_power) * pow(alpha / ALPHA_REF, alpha_power);
    a = pp[5 * 2 + 3] / pp[5 * 2 + 0] > 0.5 ? 1e-2 : 1e-12;
    *acc = a;
    switch (amp_type) {
    case AMP_LOOPSQ:
        for (i = 0; i < 4; i++) rval[i] = 0.0;
        rval[4] = v;
        if (return_accuracy > 0)
            for (i = 5; i < 10; i++) rval[i] = a;
        break;
    case AMP_LOOP:
        rval[0] = 0.0;
        rval[1] = 0.0;
        rval[2] = v;
        rval[3] = 0.5 * v;
        break;
    case AMP_LOOPINDUCED:
        rval[STANDIN_LOOPINDUCED_INDEX] = v;
        break;
    case AMP_TREE:
        rval[0] = v;
        break;
    default:
        rval[0] = NAN;
    }
}

void SYM_INFO(char* name, char* version, char* message) {
    strcpy(name, "StandIn");
    strcpy(version, "1.0");
    strcpy(message, "activeamp test stand-in");
}
