# Study: the colour-photo recipe configs checked on a third set they were
# not tuned on: synthetic lesions of the demo generator (4 classes told
# apart by shape, with skin tone, lighting and pigment as nuisances), 1,600
# training lesions of one image each (docs/benchmarks.md, "Recipes that
# follow the data"):
#   python tools/dataset_converters/make_demo_data.py --out data/demo1600 --size 64 \
#       --train-lesions 400 --val-lesions 40 --test-lesions 140 --images-per-lesion 1 --seed 7
#   python tools/benchmarks/run_benchmark.py configs/benchmarks/studies/demo1600_64px.py
name = 'Synthetic lesions, 1,600 training images, 4 classes, ResNet-18, 64 px'
work_dir = 'work_dirs/study_demo1600'
seeds = [0, 1, 2]
stage_minutes = None

data = {}
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    data[f'{loader}.dataset.data_root'] = 'data/demo1600'
    data[f'{loader}.dataset.ann_file'] = 'labels.csv'
    data[f'{loader}.dataset.split_file'] = None
    data[f'{loader}.dataset.group_key'] = 'lesion_id'

methods = dict(
    random=dict(label='random init', stages=[]),
    mocov2=dict(
        label='MoCo v2 recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/mocov2/'
                     'mocov2_resnet18_1xb64-coslr-1k_ham10000-64px.py')]),
    gravis=dict(
        label='GraVIS recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/gravis/'
                     'gravis_resnet18_1xb32-v8-coslr-1k_ham10000-64px.py')]),
    pcrl=dict(
        label='PCRL recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                     config='configs/pcrl/'
                     'pcrl_resnet18-unet_1xb64-coslr-1k_ham10000-64px.py')]),
)

probe_data = dict(data)
probe_data['model.head.num_classes'] = 4
downstream = [
    dict(
        name='linear',
        type='linear_probe',
        label='Linear probe, 4 lesion classes (frozen features)',
        config='configs/benchmarks/classification/'
        'resnet18_1xb64-coslr-30e_ham10000-64px.py',
        cfg_options=probe_data,
        metrics=['balanced_acc', 'macro_auc']),
]
