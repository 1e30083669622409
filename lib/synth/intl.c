/* lib/synth/intl.c - the generator's own lists of non-ASCII names (accented
 * Latin and several non-Latin scripts) and ASCII folding for deriving email
 * addresses from them. Written for blindlink; the names are common given
 * names and surnames of each language. */
#include <string.h>
#include <utf8proc.h>

#include "synth/synth_internal.h"

#define N_(a) (uint32_t)(sizeof(a) / sizeof((a)[0]))

/* ---- accented Latin (French, Spanish, Portuguese, German, Nordic, Polish,
 *      Czech, Hungarian, Turkish, Vietnamese, Romanian) ---------------------- */
static const char *const latin_f[] = {
    "zoé", "chloé", "inès", "mélanie", "hélène", "françoise", "anaïs", "léa",
    "maría", "lucía", "sofía", "inés", "begoña", "mónica", "verónica", "ângela",
    "joão", "conceição", "jürgen", "jördis", "björg", "åsa", "sørine", "małgorzata",
    "łucja", "żaneta", "agnieszka", "zuzana", "kateřina", "renáta", "réka", "ildikó",
    "gülşen", "özlem", "şule", "thảo", "ngọc", "ioana", "ștefania", "dóra",
};
static const char *const latin_m[] = {
    "josé", "andré", "jérôme", "frédéric", "rené", "noël", "loïc", "hervé",
    "jesús", "ramón", "martín", "joaquín", "iñaki", "álvaro", "óscar", "sébastien",
    "joão", "antónio", "søren", "jürgen", "björn", "håkon", "øystein", "łukasz",
    "bartłomiej", "paweł", "wojciech", "jiří", "tomáš", "ondřej", "lőrinc", "györgy",
    "çağan", "ömer", "mustafa", "ümit", "đức", "quốc", "mihăiță", "ștefan",
};
static const char *const latin_s[] = {
    "müller", "schröder", "größer", "köhler", "weiß", "lefèvre", "gérard", "bérubé",
    "côté", "lévesque", "pérez", "muñoz", "jiménez", "gómez", "martínez", "fernández",
    "núñez", "ibáñez", "gonçalves", "simões", "magalhães", "conceição", "sørensen",
    "jørgensen", "ångström", "løvdal", "wiśniewski", "wójcik", "kowalczyk", "łukasik",
    "dvořák", "novák", "procházka", "kovács", "szabó", "tóth", "öztürk", "yılmaz",
    "çelik", "şahin", "nguyễn", "trần", "phạm", "lê", "popescu", "ionescu", "brâncuși",
};

/* ---- Greek ----------------------------------------------------------------- */
static const char *const greek_f[] = {"μαρία", "ελένη", "αικατερίνη", "βασιλική", "σοφία",
                                      "αναστασία", "δήμητρα", "γεωργία"};
static const char *const greek_m[] = {"γιώργος", "κωνσταντίνος", "δημήτρης", "νίκος",
                                      "παναγιώτης", "χρήστος", "ιωάννης", "αλέξανδρος"};
static const char *const greek_s[] = {"παπαδόπουλος", "παπαδάκης", "οικονόμου", "γεωργίου",
                                      "νικολάου", "καραγιάννης", "βασιλείου", "αθανασίου"};

/* ---- Cyrillic (Russian, Ukrainian, Bulgarian, Serbian) ---------------------- */
static const char *const cyr_f[] = {"анна", "мария", "елена", "ольга", "наталья", "ирина",
                                    "светлана", "оксана", "юлия", "татьяна"};
static const char *const cyr_m[] = {"александр", "сергей", "дмитрий", "андрей", "алексей",
                                    "михаил", "иван", "николай", "богдан", "олег"};
static const char *const cyr_s[] = {"иванов", "смирнов", "кузнецов", "попов", "васильев",
                                    "петров", "шевченко", "бондаренко", "коваленко",
                                    "йовановић", "петровић", "георгиев"};

/* ---- Arabic ------------------------------------------------------------------ */
static const char *const arab_f[] = {"فاطمة", "مريم", "عائشة", "زينب", "نور", "ليلى",
                                     "سارة", "هدى"};
static const char *const arab_m[] = {"محمد", "أحمد", "علي", "عمر", "يوسف", "خالد",
                                     "حسن", "إبراهيم"};
static const char *const arab_s[] = {"الحسيني", "العلي", "منصور", "حداد", "خوري",
                                     "الشمري", "عبدالله", "سليمان"};

/* ---- Chinese (Han) ---------------------------------------------------------------- */
static const char *const han_f[] = {"秀英", "桂英", "丽", "静", "敏", "燕", "婷", "芳",
                                    "玉兰", "慧"};
static const char *const han_m[] = {"伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明",
                                    "建华"};
static const char *const han_s[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴",
                                    "周", "欧阳", "司马"};

/* ---- Japanese ------------------------------------------------------------------- */
static const char *const jp_f[] = {"さくら", "陽菜", "結衣", "美咲", "はるか", "由美"};
static const char *const jp_m[] = {"翔太", "大輝", "健", "ひろし", "拓海", "誠"};
static const char *const jp_s[] = {"佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤",
                                   "山本", "中村"};

/* ---- Korean (Hangul) ---------------------------------------------------------------- */
static const char *const ko_f[] = {"지우", "서연", "민지", "수빈", "하은", "지민"};
static const char *const ko_m[] = {"민준", "서준", "도윤", "예준", "지호", "현우"};
static const char *const ko_s[] = {"김", "이", "박", "최", "정", "강", "조", "윤"};

/* ---- Hindi (Devanagari) ---------------------------------------------------------------- */
static const char *const hi_f[] = {"प्रिया", "अंजलि", "पूजा", "नेहा", "कविता", "सुनीता"};
static const char *const hi_m[] = {"राहुल", "अमित", "विजय", "सुरेश", "अर्जुन", "रमेश"};
static const char *const hi_s[] = {"शर्मा", "वर्मा", "गुप्ता", "सिंह", "कुमार", "पटेल"};

/* ---- Hebrew ------------------------------------------------------------------------ */
static const char *const he_f[] = {"נועה", "שרה", "רחל", "מיכל", "תמר"};
static const char *const he_m[] = {"דוד", "יוסף", "משה", "אברהם", "יעקב"};
static const char *const he_s[] = {"כהן", "לוי", "מזרחי", "פרץ", "ביטון"};

#define GROUP(name, f, m, s, w, latin) {name, f, m, s, N_(f), N_(m), N_(s), w, latin}

const bl_sx_intl bl_sx_intl_groups[] = {
    GROUP("latin-accented", latin_f, latin_m, latin_s, 60, 1),
    GROUP("greek", greek_f, greek_m, greek_s, 5, 0),
    GROUP("cyrillic", cyr_f, cyr_m, cyr_s, 10, 0),
    GROUP("arabic", arab_f, arab_m, arab_s, 6, 0),
    GROUP("han", han_f, han_m, han_s, 8, 0),
    GROUP("japanese", jp_f, jp_m, jp_s, 4, 0),
    GROUP("hangul", ko_f, ko_m, ko_s, 3, 0),
    GROUP("devanagari", hi_f, hi_m, hi_s, 3, 0),
    GROUP("hebrew", he_f, he_m, he_s, 1, 0),
};
const uint32_t bl_sx_intl_ngroups = N_(bl_sx_intl_groups);

/* Letters whose ASCII form is not their canonical decomposition. */
static const char *fold_special(utf8proc_int32_t cp)
{
    switch (cp) {
    case 0x00DF: return "ss";             /* ß */
    case 0x00E6: case 0x00C6: return "ae"; /* æ */
    case 0x0153: case 0x0152: return "oe"; /* œ */
    case 0x00F8: case 0x00D8: return "o";  /* ø */
    case 0x0142: case 0x0141: return "l";  /* ł */
    case 0x0111: case 0x0110: return "d";  /* đ */
    case 0x00F0: case 0x00D0: return "d";  /* ð */
    case 0x00FE: case 0x00DE: return "th"; /* þ */
    case 0x0131: return "i";               /* dotless i */
    default: return NULL;
    }
}

static void fold_put(char *dst, size_t cap, size_t *n, char c)
{
    if (*n + 1 < cap)
        dst[(*n)++] = c;
}

size_t bli_sx_ascii_fold(const char *src, char *dst, size_t cap)
{
    size_t n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)src;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(src);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0)
            break;
        p += k;
        left -= k;
        if (cp < 128) {
            if (cp >= 'A' && cp <= 'Z')
                cp += 32;
            if (cp >= 'a' && cp <= 'z')
                fold_put(dst, cap, &n, (char)cp);
            continue;
        }
        const char *sp = fold_special(cp);
        if (sp) {
            for (; *sp; sp++)
                fold_put(dst, cap, &n, *sp);
            continue;
        }
        utf8proc_int32_t dec[8];
        int last = 0;
        utf8proc_ssize_t m = utf8proc_decompose_char(
            cp, dec, 8, (utf8proc_option_t)(UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD), &last);
        for (utf8proc_ssize_t i = 0; i < m && i < 8; i++)
            if (dec[i] >= 'a' && dec[i] <= 'z')
                fold_put(dst, cap, &n, (char)dec[i]);
    }
    if (cap)
        dst[n] = '\0';
    return n;
}

void bli_sx_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}
