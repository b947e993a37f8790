# Study: the CPU configs on a HAM10000 cut to 1,600 training images (one
# per lesion), melanoma vs not: the size of a typical user's set
# (docs/benchmarks.md, "Recipes that follow the data"). Make the list, then
# run the study (ResNet-18 at 64 px on a CPU):
#   python tools/benchmarks/make_subset.py ../shared/data/ham10000_200x150/labels.csv \
#       --split-file ../shared/data/ham10000_200x150/splits.csv --group-key lesion_id \
#       --size train=1600 --positive mel --mask-key mask \
#       --path-prefix ../shared/data/ham10000_200x150/ --out data/subsets/ham1600_mel.csv
#   python tools/benchmarks/run_benchmark.py configs/benchmarks/studies/ham1600_mel_64px.py
# DistillingSelf's "public generic" teacher is the MoCo v2 recipe trained on
# 1,600 chest X-rays (another modality): run
#   ... studies/kermany_cxr1600_64px.py --methods mocov2
# first (1,600 images / batch 64 -> 40 epochs, hence epoch_40.pth);
# distillingself_own needs nothing else (its public model is the MoCo v2
# recipe on the same images).
# The segmentation jobs use the same 1,600 training lesions' masks (all of
# them, or 10 % of the lesions), val picks the epoch, test reports it.
name = 'HAM10000, 1,600 training images, melanoma vs not, ResNet-18, 64 px'
work_dir = 'work_dirs/study_ham1600'
seeds = [0, 1, 2]
stage_minutes = None

subset = 'data/subsets/ham1600_mel.csv'
data = {}
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    data[f'{loader}.dataset.data_root'] = '.'
    data[f'{loader}.dataset.ann_file'] = subset
    data[f'{loader}.dataset.split_file'] = None
    data[f'{loader}.dataset.group_key'] = 'group'


# DistillingSelf's stages A and B, shared by its two methods below (they
# differ only in the public model stage A starts from).
ds_teacher_config = ('configs/distillingself/distillingself-teacher_'
                     'resnet18_1xb64-coslr-1k_ham10000-64px.py')
ds_student_stage = dict(
    name='student',
    config='configs/distillingself/distillingself_'
    'resnet18_1xb64-coslr-1k_ham10000-64px.py',
    cfg_options=dict(data, **{'model.teacher_checkpoint': '{stage:teacher}'}))

methods = dict(
    random=dict(label='random init', stages=[]),
    mocov2_shipped=dict(
        label='MoCo v2, 20 epochs (queue 4,096, hue + greyscale)',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/mocov2/'
                        'mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py')]),
    mocov2=dict(
        label='MoCo v2 recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/mocov2/'
                        'mocov2_resnet18_1xb64-coslr-1k_ham10000-64px.py')]),
    gravis_shipped=dict(
        label='GraVIS, 2 epochs',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/gravis/'
                        'gravis_resnet18_1xb16-v8-coslr-2e_ham10000-64px.py')]),
    gravis=dict(
        label='GraVIS recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/gravis/'
                        'gravis_resnet18_1xb32-v8-coslr-1k_ham10000-64px.py')]),
    pcrl_shipped=dict(
        label='PCRL, 2 epochs',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/pcrl/'
                        'pcrl_resnet18-unet_1xb32-coslr-2e_ham10000-64px.py')]),
    pcrl=dict(
        label='PCRL recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/pcrl/'
                        'pcrl_resnet18-unet_1xb64-coslr-1k_ham10000-64px.py')]),
    distillingself=dict(
        label='DistillingSelf recipe (teacher from chest X-ray MoCo v2)',
        stages=[
            dict(name='teacher', config=ds_teacher_config,
                 cfg_options=dict(
                     data, **{
                         'model.backbone.init_cfg.checkpoint':
                         'work_dirs/study_cxr1600/mocov2/pretrain/'
                         'epoch_40.pth'
                     })), ds_student_stage
        ]),
    # No public model for the modality: the MoCo v2 recipe on the same
    # unlabelled images stands in for it (three stages, ~30 CPU minutes).
    distillingself_own=dict(
        label='DistillingSelf recipe (public model = MoCo v2 recipe on '
        'the same images)',
        stages=[
            dict(name='moco', cfg_options=data,
                 config='configs/mocov2/'
                 'mocov2_resnet18_1xb64-coslr-1k_ham10000-64px.py'),
            dict(name='teacher', config=ds_teacher_config,
                 cfg_options=dict(
                     data, **{
                         'model.backbone.init_cfg.checkpoint': '{stage:moco}'
                     })), ds_student_stage
        ]),
)

probe_data = dict(data)
probe_data['model.head.num_classes'] = 2
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    probe_data[f'{loader}.dataset.label_key'] = 'label'
downstream = [
    dict(
        name='linear',
        type='linear_probe',
        label='Linear probe, melanoma vs not (frozen features)',
        config='configs/benchmarks/classification/'
        'resnet18_1xb64-coslr-30e_ham10000-64px.py',
        cfg_options=probe_data,
        metrics=['balanced_acc', 'macro_auc']),
]

seg_data = dict(data)
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    seg_data[f'{loader}.dataset.mask_key'] = 'mask'
    seg_data[f'{loader}.dataset.label_key'] = 'label'
seg_config = ('configs/benchmarks/segmentation/'
              'unet-resnet18_1xb32-coslr-20e_ham10000-64px.py')
downstream += [
    dict(name='seg', type='segmentation', config=seg_config,
         label='Lesion segmentation, U-Net fine-tuned (all 1,600 lesions)',
         cfg_options=seg_data),
    dict(name='seg10', type='segmentation', config=seg_config,
         label='Lesion segmentation, U-Net fine-tuned (10 % of the lesions)',
         label_fraction=0.1, cfg_options=seg_data),
]
