# Study: every method pretrained on HAM10000 (../shared/data), then
# evaluated on its 7-class diagnosis task with a linear probe and 10 %-label
# fine-tuning, 3 seeds. ResNet-18 at 64 px on a CPU:
#   python tools/benchmarks/run_benchmark.py configs/benchmarks/studies/ham10000_64px.py
# DistillingSelf's "public generic" teacher is MoCo v2 trained on the chest
# X-rays: run the chest X-ray study's mocov2 first
#   (... studies/kermany_cxr_64px.py --methods mocov2).
name = 'HAM10000 (7 classes), ResNet-18, 64 px, CPU'
work_dir = 'work_dirs/study_ham'
seeds = [0, 1, 2]
stage_minutes = None  # the configs are sized to 10-20 CPU minutes

methods = dict(
    random=dict(label='random init', stages=[]),
    mocov2=dict(
        label='MoCo v2',
        stages=[
            dict(
                name='pretrain',
                config='configs/mocov2/'
                'mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py')
        ]),
    gravis=dict(
        label='GraVIS',
        stages=[
            dict(
                name='pretrain',
                config='configs/gravis/'
                'gravis_resnet18_1xb16-v8-coslr-2e_ham10000-64px.py')
        ]),
    pcrl=dict(
        label='PCRL',
        stages=[
            dict(
                name='pretrain',
                config='configs/pcrl/'
                'pcrl_resnet18-unet_1xb32-coslr-2e_ham10000-64px.py')
        ]),
    distillingself=dict(
        label='DistillingSelf (teacher from chest X-ray MoCo v2)',
        stages=[
            dict(
                name='teacher',
                config='configs/distillingself/distillingself-teacher_'
                'resnet18_1xb64-coslr-5e_ham10000-64px.py',
                cfg_options={
                    'model.backbone.init_cfg.checkpoint':
                    'work_dirs/study_chest/mocov2/pretrain/epoch_20.pth'
                }),
            dict(
                name='student',
                config='configs/distillingself/distillingself_'
                'resnet18_1xb64-coslr-5e_ham10000-64px.py',
                cfg_options={'model.teacher_checkpoint': '{stage:teacher}'}),
        ]),
)

finetune_config = ('configs/benchmarks/classification/'
                   'resnet18_1xb64-coslr-30e_ham10000-64px.py')
metrics = ['top1', 'balanced_acc', 'macro_f1', 'macro_auc']
downstream = [
    dict(
        name='linear',
        type='linear_probe',
        label='Linear probe (frozen features, 100 % labels)',
        config=finetune_config,
        metrics=metrics),
    dict(
        name='linear10',
        type='linear_probe',
        label='Linear probe (frozen features, 10 % of the lesions)',
        config=finetune_config,
        label_fraction=0.1,
        metrics=metrics),
    dict(
        name='linear1',
        type='linear_probe',
        label='Linear probe (frozen features, 1 % of the lesions)',
        config=finetune_config,
        label_fraction=0.01,
        metrics=metrics),
    dict(
        name='finetune10',
        type='finetune',
        label='Fine-tuning (10 % of the lesions, 30 epochs)',
        config=finetune_config,
        label_fraction=0.1,
        metrics=metrics),
]
