# Study: the recipe configs checked on data they were not tuned on: the
# Kermany chest X-rays cut to 1,600 training images (one per patient
# first), pneumonia vs normal, official test set (docs/benchmarks.md,
# "Recipes that follow the data"):
#   python tools/benchmarks/make_subset.py ../shared/data/chest_xray_pneumonia_224/labels.csv \
#       --split-file ../shared/data/chest_xray_pneumonia_224/splits.csv --group-key patient_id \
#       --size train=1600 --positive PNEUMONIA \
#       --path-prefix ../shared/data/chest_xray_pneumonia_224/ --out data/subsets/cxr1600.csv
#   python tools/benchmarks/run_benchmark.py configs/benchmarks/studies/kermany_cxr1600_64px.py
name = 'Chest X-ray, 1,600 training images, pneumonia vs normal, ResNet-18, 64 px'
work_dir = 'work_dirs/study_cxr1600'
seeds = [0, 1, 2]
stage_minutes = None

subset = 'data/subsets/cxr1600.csv'
data = {}
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    data[f'{loader}.dataset.data_root'] = '.'
    data[f'{loader}.dataset.ann_file'] = subset
    data[f'{loader}.dataset.split_file'] = None
    data[f'{loader}.dataset.group_key'] = 'group'
    data[f'{loader}.dataset.label_key'] = 'label'
data['train_dataloader.dataset.label_key'] = None  # pretraining: no labels

# DistillingSelf's stages A and B; no public chest X-ray model ships here,
# so the MoCo v2 recipe on the same unlabelled images stands in for it.
ds_teacher_config = ('configs/distillingself/distillingself-teacher_'
                     'resnet18_1xb64-coslr-1k_kermany-cxr-64px.py')
ds_student_config = ('configs/distillingself/distillingself_'
                     'resnet18_1xb64-coslr-1k_kermany-cxr-64px.py')

methods = dict(
    random=dict(label='random init', stages=[]),
    mocov2=dict(
        label='MoCo v2 recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/mocov2/'
                     'mocov2_resnet18_1xb64-coslr-1k_kermany-cxr-64px.py')]),
    gravis=dict(
        label='GraVIS recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/gravis/'
                     'gravis_resnet18_1xb32-v8-coslr-1k_kermany-cxr-64px.py')]),
    pcrl=dict(
        label='PCRL recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/pcrl/'
                     'pcrl_resnet18-unet_1xb64-coslr-1k_kermany-cxr-64px.py')]),
    distillingself_own=dict(
        label='DistillingSelf recipe (public model = MoCo v2 recipe on '
        'the same images)',
        stages=[
            dict(name='moco', cfg_options=data,
                 config='configs/mocov2/'
                 'mocov2_resnet18_1xb64-coslr-1k_kermany-cxr-64px.py'),
            dict(name='teacher', config=ds_teacher_config,
                 cfg_options=dict(
                     data, **{
                         'model.backbone.init_cfg.checkpoint': '{stage:moco}'
                     })),
            dict(name='student', config=ds_student_config,
                 cfg_options=dict(
                     data, **{'model.teacher_checkpoint': '{stage:teacher}'})),
        ]),
)

probe_data = dict(data)
probe_data['train_dataloader.dataset.label_key'] = 'label'
downstream = [
    dict(
        name='linear',
        type='linear_probe',
        label='Linear probe, pneumonia vs normal (frozen features)',
        config='configs/benchmarks/classification/'
        'resnet18_1xb64-coslr-30e_kermany-cxr-64px.py',
        cfg_options=probe_data,
        metrics=['balanced_acc', 'macro_auc']),
]
