/* plot.c - the training curve as SVG: training loss (left axis) and the dev
 * metric (right axis, 0..1) against the step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/vec.h"
#include "train/trainer_internal.h"

#define W 720
#define H 420
#define ML 70
#define MR 70
#define MT 40
#define MB 55

static double nice_step(double range) {
    double e = pow(10, floor(log10(range / 5))), f = range / 5 / e;
    return e * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

pt_status pt_plot_svg(const char *path, const pt_trainer *tr, const char *metric_name) {
    pt_buf b = {0};
    long n = (long)tr->losses.n;
    double xmax = n > 1 ? (double)n : 1, ymax = 0, ymin = 0;
    for (long i = 0; i < n; i++)
        if (tr->losses.v[i] > ymax) ymax = tr->losses.v[i];
    if (ymax <= 0) ymax = 1;
    double pw = W - ML - MR, ph = H - MT - MB;
#define X(s) (ML + (s) / xmax * pw)
#define YL(v) (MT + ph - ((v) - ymin) / (ymax - ymin) * ph)
#define YR(v) (MT + ph - (v) * ph)
    pt_buf_printf(&b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"22\" font-size=\"15\">ptune training: loss and %s</text>\n",
                  W, H, ML, metric_name);
    /* axes and grid */
    pt_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" fill=\"none\" "
                      "stroke=\"#333\"/>\n", ML, MT, pw, ph);
    double ys = nice_step(ymax - ymin);
    for (double v = 0; v <= ymax + 1e-9; v += ys)
        pt_buf_printf(&b, "<line x1=\"%d\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%g</text>\n",
                      ML, ML + pw, YL(v), YL(v), ML - 6, YL(v) + 4, v);
    for (int k = 0; k <= 5; k++)
        pt_buf_printf(&b, "<text x=\"%g\" y=\"%.1f\" fill=\"#d62728\">%.1f</text>\n", ML + pw + 6,
                      YR(k / 5.0) + 4, k / 5.0);
    double xs = nice_step(xmax);
    for (double s = 0; s <= xmax + 1e-9; s += xs)
        pt_buf_printf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n", X(s),
                      MT + ph + 18, s);
    pt_buf_printf(&b,
                  "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">step</text>\n"
                  "<text transform=\"translate(18,%g) rotate(-90)\" text-anchor=\"middle\" "
                  "fill=\"#1f77b4\">training loss</text>\n"
                  "<text transform=\"translate(%d,%g) rotate(90)\" text-anchor=\"middle\" "
                  "fill=\"#d62728\">%s</text>\n",
                  ML + pw / 2, H - 12, MT + ph / 2, W - 14, MT + ph / 2, metric_name);
    /* loss curve */
    if (n > 0) {
        pt_buf_puts(&b, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
        for (long i = 0; i < n; i++)
            pt_buf_printf(&b, "%.1f,%.1f ", X((double)(i + 1)), YL((double)tr->losses.v[i]));
        pt_buf_puts(&b, "\"/>\n");
    }
    /* dev metric */
    if (tr->ev_step.n > 0) {
        pt_buf_puts(&b, "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"");
        for (size_t i = 0; i < tr->ev_step.n; i++)
            pt_buf_printf(&b, "%.1f,%.1f ", X((double)tr->ev_step.v[i]), YR((double)tr->ev_metric.v[i]));
        pt_buf_puts(&b, "\"/>\n");
        for (size_t i = 0; i < tr->ev_step.n; i++)
            pt_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n",
                          X((double)tr->ev_step.v[i]), YR((double)tr->ev_metric.v[i]));
    }
    pt_status s = pt_buf_puts(&b, "</svg>\n");
    if (!s) s = pt_write_file_atomic(path, b.v, b.n);
    pt_buf_free(&b);
    return s;
}
