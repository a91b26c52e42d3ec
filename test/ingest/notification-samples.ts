// Sample deliveries written from each sender's documented format (AWS S3 event message structure,
// MinIO's webhook target, OCI Events' object events, CloudEvents 1.0 HTTP binding), for the parser,
// route and stream tests.

export function s3Record(o: {
  bucket?: string;
  key: string;
  etag?: string;
  size?: number;
  sequencer?: string;
  eventName?: string;
}) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2024-05-01T12:00:00.000Z',
    eventName: o.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'sluice-inputs',
      bucket: {
        name: o.bucket ?? 'source',
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: `arn:aws:s3:::${o.bucket ?? 'source'}`,
      },
      object: {
        key: o.key,
        size: o.size ?? 1024,
        ...(o.etag !== undefined ? { eTag: o.etag } : {}),
        versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
        sequencer: o.sequencer ?? '0055AED6DCD90281E5',
      },
    },
  };
}

export const AWS_S3_PUT = {
  Records: [s3Record({ key: 'inputs/my+talk%281%29.mp4', etag: 'd41d8cd98f00b204e9800998ecf8427e' })],
};

export const AWS_S3_TEST_EVENT = {
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2024-05-01T12:00:00.000Z',
  Bucket: 'source',
  RequestId: '5582815E1AEA5ADF',
  HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
};

/** MinIO's webhook body: the key escaped as a query string (%2F for /, + for space), eTag unquoted. */
export const MINIO_PUT = {
  EventName: 's3:ObjectCreated:Put',
  Key: 'source/inputs/a b.mp4',
  Records: [
    {
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      awsRegion: '',
      eventTime: '2024-05-01T12:00:01.000Z',
      eventName: 's3:ObjectCreated:Put',
      userIdentity: { principalId: 'minioadmin' },
      requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '192.0.2.10' },
      responseElements: {
        'x-amz-request-id': '17B6E9C8A1D2F3E4',
        'x-minio-origin-endpoint': 'http://192.0.2.2:9000',
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'Config',
        bucket: { name: 'source', ownerIdentity: { principalId: 'minioadmin' }, arn: 'arn:aws:s3:::source' },
        object: {
          key: 'inputs%2Fa+b.mp4',
          size: 2048,
          eTag: '"9b2cf535f27731c974343645a3985328"',
          contentType: 'video/mp4',
          userMetadata: { 'content-type': 'video/mp4' },
          sequencer: '17B6E9C8A1D2F3E4',
        },
      },
      source: { host: '192.0.2.10', port: '', userAgent: 'MinIO (linux; amd64) minio-go/v7.0.70' },
    },
  ],
};

export const MINIO_DELETE = {
  EventName: 's3:ObjectRemoved:Delete',
  Key: 'source/inputs/a b.mp4',
  Records: [{ ...MINIO_PUT.Records[0], eventName: 's3:ObjectRemoved:Delete' }],
};

/** OCI Events as OCI Notifications posts it to an HTTPS subscription (CloudEvents 0.1 names). */
export const OCI_CREATE = {
  eventType: 'com.oraclecloud.objectstorage.createobject',
  cloudEventsVersion: '0.1',
  eventTypeVersion: '2.0',
  source: 'ObjectStorage',
  eventTime: '2024-05-01T12:00:02Z',
  contentType: 'application/json',
  data: {
    compartmentId: 'ocid1.compartment.oc1..aaaaaaaexample',
    compartmentName: 'media',
    resourceName: 'inputs/talk 2.mp4',
    resourceId: '/n/axexample/b/source/o/inputs/talk%202.mp4',
    availabilityDomain: 'IAD-AD-1',
    additionalDetails: {
      bucketName: 'source',
      archivalState: 'Available',
      namespace: 'axexample',
      bucketId: 'ocid1.bucket.oc1.iad.aaaaaaaexample',
      eTag: 'f2a5b2c6-3d1e-4c5b-9d8e-6a7b8c9d0e1f',
    },
  },
  eventID: '8a7b6c5d-1234-4e5f-9abc-def012345678',
  extensions: { compartmentId: 'ocid1.compartment.oc1..aaaaaaaexample' },
};

/** The same OCI event in CloudEvents 1.0 structured mode. */
export const OCI_UPDATE_CE1 = {
  specversion: '1.0',
  type: 'com.oraclecloud.objectstorage.updateobject',
  source: 'ObjectStorage',
  id: '9b8c7d6e-1234-4e5f-9abc-def012345678',
  time: '2024-05-01T12:00:03Z',
  datacontenttype: 'application/json',
  data: { ...OCI_CREATE.data, resourceName: 'inputs/talk 3.mp4' },
};

export function sluiceEvent(key: string, etag?: string) {
  return {
    specversion: '1.0',
    id: `id-${key}`,
    type: 'io.sluice.object.created',
    source: 'sluice://tests',
    subject: key,
    time: '2024-05-01T12:00:04Z',
    datacontenttype: 'application/json',
    data: { bucket: 'source', key, size: 10, ...(etag ? { etag } : {}) },
  };
}
