# bench/plot.gp: draws the charts of `make bench` from the .dat files it wrote.
#   gnuplot -e "dir='build/bench'" bench/plot.gp
# Writes dir/bench-throughput.png and dir/bench-latency.png.
if (!exists("dir")) dir = "build/bench"
W = system("cat ".dir."/workers.txt")

set terminal pngcairo size 1100,460 font "sans,10"
set output dir."/bench-throughput.png"
set multiplot layout 1,2 title "Empty-job throughput vs submitting threads (".W." workers; higher is better)"
set xlabel "submitting threads"
set ylabel "million jobs / s"
set logscale y
set grid ytics
set key top left
set xtics ("1" 1, "2" 2, "4" 4)
set xrange [0.8:4.4]
set title "fire-and-forget (jobq\\_post)"
plot for [c=2:5] dir."/tput_post_w1.dat" using 1:c with linespoints lw 2 pt 7 title columnhead(c)
set title "tracked, with a completion callback (jobq\\_submit + on\\_done)"
plot for [c=2:5] dir."/tput_tracked_w1.dat" using 1:c with linespoints lw 2 pt 7 title columnhead(c)
unset multiplot

set output dir."/bench-latency.png"
set terminal pngcairo size 1100,800 font "sans,10"
set multiplot layout 2,2 title "Submit-to-start latency, 1 submitter, 1 worker (µs, log scale; lower is better)"
unset xrange
unset xlabel
set xtics auto
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "µs"
set key top left
set title "a worker awake (spinning)"
plot for [c=2:5] dir."/lat_awake.dat" using c:xtic(1) title columnhead(c)
set title "all workers parked (futex floor: one-way wake of a parked thread)"
plot for [c=2:6] dir."/lat_parked.dat" using c:xtic(1) title columnhead(c)
set title "open loop at 50% of each executor's capacity"
plot for [c=2:5] dir."/lat_open50.dat" using c:xtic(1) title columnhead(c)
set title "open loop at 90% of each executor's capacity"
plot for [c=2:5] dir."/lat_open90.dat" using c:xtic(1) title columnhead(c)
unset multiplot
