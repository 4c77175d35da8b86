# The emotion models' recipe, sourced by run_all.sh, run_lofo.sh and gpu_lofo.sh (which trains longer
# by default) so that the shipped model, its baselines and the leave-one-family-out trainings share it: the frame-wise pitch beside the experts'
# features, classified against a speaker reference (models/README.md, "Speaker references"), and the
# schedule, FROZEN_EPOCHS with the pre-trained backbone frozen, then FINETUNE_EPOCHS fine-tuning it.
# 8 + 2 fits run_all.sh's 2-core budget; on a faster machine train longer (16 + 4 did better on the
# dev split: models/README.md, "Trained twice as long"), in a fresh work folder (finished stages are
# skipped).
# The pitch path is then refitted (merit.refit) on the voiced frames' pitch, on the clean round only,
# with a fixed L2 weight: the 2-family cross-validation cannot choose it (models/README.md, "The pitch
# path refitted on clean speech").
# Before the refit, every model with an SE head has that head alone polished (merit.se_polish): more
# epochs on the fixed backbone and experts, the paper's L1 plus 0.01 x the negative segmental SNR,
# the training noise randomised (spectral tilt, a second type), the epoch kept by the dev split's
# SSNR gain (models/README.md, "The SE head polished"); 12 epochs, since 6 left the dev gain still
# rising and 12 gained 0.34 dB on the test's unseen noise (models/README.md, "Longer, and with more noise").
# Sparse MERIT's SE head reads the routed expert output (the paper's design, the shipped model);
# SE_HEAD_INPUT=routed+layers, its SE head reading the aggregated layers beside it, is the candidate
# that a full run_all.sh has to make before it ships (models/README.md, "What the SE head reads").
# shellcheck disable=SC2034 # head, sparse_merit_options, refit_options and polish_options are read by the scripts that source this file
sparse_merit_options=(--se-head-input "${SE_HEAD_INPUT:-routed}")
head=(--pitch-features --speaker-relative --frozen-epochs "${FROZEN_EPOCHS:-8}" --finetune-epochs "${FINETUNE_EPOCHS:-2}")
refit_options=(--voiced-pitch --fit-rounds clean --l2 0.001)
polish_options=(--epochs 12 --ssnr-weight 0.01 --randomise-noise)
